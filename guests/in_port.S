/* in_port: inb from the output port 0x10 -> status unhandled_io, port 0x10, in, size 1. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	inb	$TINCAN_PORT_OUTPUT, %al
	hlt
