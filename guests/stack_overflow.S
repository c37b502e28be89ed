/* stack_overflow: push without end -> status fault, #PF vector 14, error code 2 (write, not present), cr2 = the last qword of the guard page below the 1 MiB stack (0xeffff8 with 16 MiB), rip = the push (0x10000); the message says "stack overflow". */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	pushq	%rax
	jmp	_start
