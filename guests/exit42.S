/* exit42: outb 42 to the exit port -> status ok, exit code 42, no output. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movb	$42, %al
	outb	%al, $TINCAN_PORT_EXIT
	ud2
