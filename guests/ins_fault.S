/* ins_fault: insb from port 0 into (%rdi) = address 0 -> status unhandled_io, IN of 1 byte from port 0 (the IN ends the job before the store could fault). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	xorl	%edi, %edi
	xorl	%edx, %edx
	insb
	hlt
