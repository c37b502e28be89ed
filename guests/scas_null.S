/* scas_null: scasl compares eax with (%rdi) = address 0 -> status fault, #PF vector 14, error code 0 (read), cr2=0, rip = the scasl (0x10002). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	xorl	%edi, %edi
	scasl
	hlt
