/* bulk_n: input = LE uint64 {addr, len}; one bulk write of that range -> status ok, exit 0, output = memory [addr, addr+len), or unhandled_io port 0x12 if out of range (input < 16 bytes: exit 2, no output). */
#include "tincan_abi.h"
#include "guest.inc"

	.code64
	.text
	.globl	_start
_start:
	cmpq	$TINCAN_WRITE_DESC_SIZE, %rsi
	jb	bad_input
	pushq	8(%rdi)			/* descriptor on the stack: { addr, len } */
	pushq	(%rdi)
	movl	%esp, %eax
	outl	%eax, $TINCAN_PORT_WRITE
	exit_ok
bad_input:
	movb	$EXIT_BAD_INPUT, %al
	outb	%al, $TINCAN_PORT_EXIT
	ud2
