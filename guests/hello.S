/* hello: push "Hello, World!\n" onto the stack, outsb it to the output port forever -> status timeout, output "Hello, World!\n" repeated (last copy may be cut). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movabs	$0x00000a21646c726f, %rax	/* "orld!\n\0\0" */
	push	%rax
	movabs	$0x57202c6f6c6c6548, %rax	/* "Hello, W" */
	push	%rax
	movw	$TINCAN_PORT_OUTPUT, %dx
	cld
1:	movq	%rsp, %rsi
	movl	$14, %ecx
	rep outsb
	jmp	1b
