/* null_read: read a qword from address 0 -> status fault, #PF vector 14, error code 0 (read, not present), cr2=0, rip = the load (0x10002). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	xorl	%eax, %eax
	movq	(%rax), %rax
	hlt
