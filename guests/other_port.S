/* other_port: outb to port 0x80 -> status unhandled_io, port 0x80, out, size 1. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movb	$0x55, %al
	outb	%al, $0x80
	hlt
