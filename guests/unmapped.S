/* unmapped: write dword 0x11223344 to 0xC0000000 (mapped, no memory) -> status mmio, address 0xc0000000, write, size 4. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movl	$0xC0000000, %eax	/* zero-extends; a disp32 would sign-extend */
	movl	$0x11223344, (%rax)
	hlt
