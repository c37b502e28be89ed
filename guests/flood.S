/* flood: bulk-write a 4 KiB pattern buffer forever -> status output_limit, output = first --max-output bytes of byte[i] = (i*7+3)&0xff. */
#include "tincan_abi.h"
#include "guest.inc"

#define CHUNK 4096	/* a multiple of 256: the stream continues the pattern */

	.code64
	.text
	.globl	_start
_start:
	subq	$CHUNK, %rsp		/* buffer: the top 4 KiB of memory */
	movq	%rsp, %rdi
	movl	$CHUNK, %ecx
	fill_pattern
	movq	%rsp, %rax
	pushq	$CHUNK			/* descriptor: { addr = buffer, len } */
	pushq	%rax
	movl	%esp, %eax		/* its address (< 1 GiB) */
1:	outl	%eax, $TINCAN_PORT_WRITE
	jmp	1b
