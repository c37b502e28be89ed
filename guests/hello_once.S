/* hello_once: one bulk write of "Hello, World!\n", then hlt -> status ok, exit code 0, output "Hello, World!\n". */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movl	$desc, %eax
	outl	%eax, $TINCAN_PORT_WRITE
	hlt
	ud2

	.balign	8
desc:	.quad	msg, msg_end - msg
msg:	.ascii	"Hello, World!\n"
msg_end:
