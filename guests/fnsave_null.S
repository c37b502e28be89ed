/* fnsave_null: fnsave to address 0 (rax is 0 at entry), then int3 -> status fault, #PF vector 14, error code 2 (write), cr2=0, rip = the fnsave (0x10000); never the #BP after it. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	fnsave	(%rax)
	int3
