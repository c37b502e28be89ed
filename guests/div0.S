/* div0: divide by zero -> status fault, #DE vector 0, no error code, rip = the div (0x10009). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movl	$1, %eax
	xorl	%edx, %edx
	xorl	%ecx, %ecx
	divl	%ecx
	hlt
