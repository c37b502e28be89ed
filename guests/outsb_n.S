/* outsb_n: input = LE uint64 N; rep outsb of N pattern bytes (byte[i] = (i*7+3)&0xff) -> status ok, exit 0, output exactly N pattern bytes (input < 8 bytes: exit 2, no output). */
#include "tincan_abi.h"
#include "guest.inc"

	.code64
	.text
	.globl	_start
_start:
	cmpq	$8, %rsi
	jb	bad_input
	movq	(%rdi), %rbx		/* N */
	movl	$SCRATCH, %edi
	movq	%rbx, %rcx
	fill_pattern
	movl	$SCRATCH, %esi
	movq	%rbx, %rcx
	movw	$TINCAN_PORT_OUTPUT, %dx
	cld
	rep outsb
	exit_ok
bad_input:
	movb	$EXIT_BAD_INPUT, %al
	outb	%al, $TINCAN_PORT_EXIT
	ud2
