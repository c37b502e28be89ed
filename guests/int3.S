/* int3: breakpoint -> status fault, #BP vector 3, no error code, rip=0x10001 (trap: the next instruction). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	int3
	hlt
