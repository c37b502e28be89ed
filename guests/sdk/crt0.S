/*
 * crt0.S - entry point of C guests: zero .bss, align the stack, run the
 * constructors of .init_array, call main(input, len) with the ABI's
 * rdi/rsi, flush buffered output, and end the job with main's return value
 * as the exit code.
 *
 * Loaded as a flat binary, the file ends before .bss, so tincan puts the
 * input at the first page after the file: inside .bss. crt0 then moves the
 * input to the first page after .bss before zeroing it. (Loaded as ELF, the
 * input already lies past every segment and stays where it is.)
 */
#include "tincan_abi.h"

	.code64
	.section .text.start, "ax"
	.globl	_start
_start:
	movq	%rdi, %r12		/* input address (callee-saved) */
	movq	%rsi, %r13		/* input length */
	leaq	__bss_end(%rip), %rdi
	addq	$0xfff, %rdi
	andq	$-0x1000, %rdi		/* first page after .bss */
	cmpq	%rdi, %r12
	jae	2f			/* input already above .bss */
	leaq	(%r12,%r13), %rax
	leaq	__bss_start(%rip), %rcx
	cmpq	%rcx, %rax
	jbe	2f			/* input entirely below .bss */
	/* move [r12, r12+r13) up to rdi, copying backwards (rdi > r12):
	 * the tail bytes last-first, then whole quadwords. (An emulator
	 * steps rep string instructions one element at a time.) */
	movq	%rdi, %rdx
	leaq	-1(%r12,%r13), %rsi
	leaq	-1(%rdi,%r13), %rdi
	movq	%r13, %rcx
	andq	$7, %rcx
	std
	rep movsb
	subq	$7, %rsi		/* the last quadword's first byte */
	subq	$7, %rdi
	movq	%r13, %rcx
	shrq	$3, %rcx
	rep movsq
	cld
	movq	%rdx, %r12
2:	leaq	__bss_start(%rip), %rdi
	leaq	__bss_end(%rip), %rdx
	subq	%rdi, %rdx		/* .bss size */
	xorl	%eax, %eax
	cld
	movq	%rdx, %rcx
	shrq	$3, %rcx
	rep stosq
	movq	%rdx, %rcx
	andq	$7, %rcx
	rep stosb
	andq	$-16, %rsp		/* the ABI's rsp is aligned; make sure */
	leaq	__init_array_start(%rip), %rbx
	leaq	__init_array_end(%rip), %r14
3:	cmpq	%r14, %rbx		/* each constructor, in order */
	jae	4f
	call	*(%rbx)
	addq	$8, %rbx
	jmp	3b
4:	movq	%r12, %rdi
	movq	%r13, %rsi
	call	main
	movl	%eax, %ebx
	call	tc_flush
	movl	%ebx, %eax
	outl	%eax, $TINCAN_PORT_EXIT
1:	hlt
	jmp	1b
