/* outw_outl: outw 0x4241 then outl 0x46454443 to the output port, then hlt -> status ok, exit code 0, output "ABCDEF". */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movw	$0x4241, %ax
	outw	%ax, $TINCAN_PORT_OUTPUT
	movl	$0x46454443, %eax
	outl	%eax, $TINCAN_PORT_OUTPUT
	hlt
