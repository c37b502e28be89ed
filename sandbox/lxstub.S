/*
 * lxstub.S - the two ring-0 stubs of Linux guests, copied into the boot
 * image at TINCAN_LX_ENTRY_ADDR and TINCAN_LX_SYSCALL_ADDR (boot.c). They
 * are position-independent bytes: every address they use is a constant of
 * the ABI, every jump relative. Not linked into the host's code paths: the
 * host only copies them.
 */
#include "lxframe.h"

	.section .rodata, "a"
	.code64

/*
 * The first instructions of a Linux guest, in ring 0: enable syscall
 * (EFER.SCE), point it at the syscall stub (STAR, LSTAR, FMASK), then
 * iretq into the program in ring 3. In: rbx = the program's entry point,
 * rsp = its initial stack (argc, argv, envp, auxv), every other register 0.
 * The iret frame goes just below that stack and is popped again: the
 * program starts with rsp at argc and every other register 0, as on Linux.
 * (iretq, not sysretq: it needs no EFER.SCE, which Unicorn's CPU model
 * cannot set; the emulator's syscall hook needs none either.)
 */
	.globl	lxstub_entry, lxstub_entry_end
lxstub_entry:
	movl	$LX_MSR_EFER, %ecx
	rdmsr
	orl	$LX_EFER_SCE, %eax
	wrmsr
	movl	$LX_MSR_STAR, %ecx
	xorl	%eax, %eax
	movl	$LX_STAR_HIGH, %edx
	wrmsr
	movl	$LX_MSR_LSTAR, %ecx
	movl	$TINCAN_LX_SYSCALL_ADDR, %eax
	xorl	%edx, %edx
	wrmsr
	movl	$LX_MSR_FMASK, %ecx
	movl	$LX_FMASK, %eax
	xorl	%edx, %edx
	wrmsr
	/* x87 and SSE as Linux starts a process: FCW 0x37f (double extended
	 * precision, all exceptions masked; the vCPU's reset value 0x40 makes
	 * long double arithmetic single precision), MXCSR 0x1f80. */
	fninit
	pushq	$LX_MXCSR
	ldmxcsr	(%rsp)
	popq	%rax
	movq	%rsp, %rax
	pushq	$LX_USER_SS
	pushq	%rax
	pushq	$LX_USER_RFLAGS
	pushq	$LX_USER_CS
	pushq	%rbx
	xorl	%eax, %eax
	xorl	%ecx, %ecx
	xorl	%edx, %edx
	xorl	%ebx, %ebx
	iretq
lxstub_entry_end:

/*
 * LSTAR: a syscall from the program lands here in ring 0, on the program's
 * own stack, which the stub never touches (the red zone stays intact). It
 * stores the call into the frame, exits to the host with one OUT, applies
 * the MSR write the host asked for (a new FS base), and returns: every
 * register but rax, rcx and r11 as it was, as Linux does.
 */
	.globl	lxstub_syscall, lxstub_syscall_end
lxstub_syscall:
	movq	%rax, LXF_ADDR(LXF_RAX)
	movq	%rdi, LXF_ADDR(LXF_RDI)
	movq	%rsi, LXF_ADDR(LXF_RSI)
	movq	%rdx, LXF_ADDR(LXF_RDX)
	movq	%r10, LXF_ADDR(LXF_R10)
	movq	%r8, LXF_ADDR(LXF_R8)
	movq	%r9, LXF_ADDR(LXF_R9)
	movq	%rcx, LXF_ADDR(LXF_RCX)
	movq	%r11, LXF_ADDR(LXF_R11)
	movq	%rsp, LXF_ADDR(LXF_RSP)
	outb	%al, $TINCAN_PORT_SYSCALL
	movl	LXF_ADDR(LXF_MSR), %ecx
	testl	%ecx, %ecx
	jz	1f
	movl	LXF_ADDR(LXF_MSR_VALUE), %eax
	movl	LXF_ADDR(LXF_MSR_VALUE) + 4, %edx
	wrmsr
1:	movq	LXF_ADDR(LXF_RCX), %rcx
	movq	LXF_ADDR(LXF_R11), %r11
	movq	LXF_ADDR(LXF_RDX), %rdx
	movq	LXF_ADDR(LXF_RAX), %rax
	sysretq
lxstub_syscall_end:

	.section .note.GNU-stack, "", @progbits
