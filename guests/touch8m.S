/* touch8m: writes one byte in each 4 KiB page of the 8 MiB at 0x100000 -> status ok, exit code 0, no output; the job's peak RSS grows by about 8 MiB (needs --mem >= 9 MiB). */
#include "tincan_abi.h"
#include "guest.inc"

#define BASE 0x100000
#define LEN 0x800000
#define PAGE 0x1000

	.code64
	.text
	.globl	_start
_start:
	movl	$BASE, %edi
	movl	$(LEN / PAGE), %ecx
1:	movb	$1, (%rdi)
	addq	$PAGE, %rdi
	decl	%ecx
	jnz	1b
	exit_ok
