/* cr3_high: CR3 = 4 GiB, above guest-physical memory and its MMIO range:
 * nothing answers the walk -> status shutdown (the emulator at once; KVM
 * retries the walk, and tincan finds it at the deadline). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movabs	$0x100000000, %rax
	mov	%rax, %cr3
	nop
	hlt
