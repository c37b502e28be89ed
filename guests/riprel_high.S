/* riprel_high: a rip-relative load 256 MiB below the code, at the canonical 0xfffffffff0010006 -> status fault, #PF vector 14, error code 0, cr2=0xfffffffff0010006, rip = the load (0x10000). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movl	-0x10000000(%rip), %eax
	hlt
