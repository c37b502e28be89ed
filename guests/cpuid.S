/* cpuid: cpuid for leaves 0, 1, 7, 0xd (subleaves 0, 1), 0x40000000 and 0x80000000-0x80000008, eax ebx ecx edx of each to the output port -> status ok, exit code 0, 240 bytes: the ABI's CPUID table (ABI.md), the same on both backends. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	leaq	leaves(%rip), %rbx
	movl	$NLEAVES, %r8d
	subq	$NLEAVES * 16, %rsp
	movq	%rsp, %rdi
1:	movl	(%rbx), %eax
	movl	4(%rbx), %ecx
	pushq	%rbx
	cpuid
	movl	%eax, (%rdi)
	movl	%ebx, 4(%rdi)
	movl	%ecx, 8(%rdi)
	movl	%edx, 12(%rdi)
	popq	%rbx
	addq	$8, %rbx
	addq	$16, %rdi
	decl	%r8d
	jnz	1b
	movq	%rsp, %rsi
	movl	$NLEAVES * 16, %ecx
	movw	$TINCAN_PORT_OUTPUT, %dx
	cld
	rep outsb
	xorl	%eax, %eax
	outb	%al, $TINCAN_PORT_EXIT
	ud2

	.balign	8
/* leaf, subleaf */
leaves:
	.long	0x00000000, 0
	.long	0x00000001, 0
	.long	0x00000007, 0
	.long	0x0000000d, 0
	.long	0x0000000d, 1
	.long	0x40000000, 0
	.long	0x80000000, 0
	.long	0x80000001, 0
	.long	0x80000002, 0
	.long	0x80000003, 0
	.long	0x80000004, 0
	.long	0x80000005, 0
	.long	0x80000006, 0
	.long	0x80000007, 0
	.long	0x80000008, 0
	.set	NLEAVES, (. - leaves) / 8
