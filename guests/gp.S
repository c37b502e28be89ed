/* gp: load from non-canonical 0x8000000000000000 -> status fault, #GP vector 13, error code 0, rip = the load (0x1000a). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movabs	$0x8000000000000000, %rax
	movq	(%rax), %rax
	hlt
