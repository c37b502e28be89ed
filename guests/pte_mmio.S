/* pte_mmio: PML4[0] points the PDPT at 0x40000000, mapped but unbacked
 * guest-physical memory ([MEM, 4 GiB)): the next fetch's walk reads there
 * -> status mmio, a read at 0x40000000 (the emulator at once; KVM retries
 * the walk, and tincan finds it at the deadline). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movq	$0x40000003, 0x4000	/* PML4[0]: present, writable */
	mov	%cr3, %rax
	mov	%rax, %cr3		/* flush the TLB */
	nop
	hlt
