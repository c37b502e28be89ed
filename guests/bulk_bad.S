/* bulk_bad: bulk write of {addr=0xC0000000, len=16} (outside guest memory) -> status unhandled_io, port 0x12, no output. */
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
desc:	.quad	0xC0000000, 16
