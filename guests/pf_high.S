/* pf_high: write to 0x100000000 (first unmapped byte) -> status fault, #PF vector 14, error code 2 (write, not present), cr2=0x100000000, rip = the store (0x1000a). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movabs	$TINCAN_MAPPED_END, %rax
	movl	$0x11223344, (%rax)
	hlt
