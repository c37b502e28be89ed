/* cr3_null: CR3 = 0, page 0, which holds no table: the next fetch's walk
 * finds nothing present, and neither does the delivery of its #PF (the IDT
 * is unmapped too) -> triple fault, status shutdown, at once on both
 * backends (KVM backs page 0 with zeros for the walk). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	xor	%eax, %eax
	mov	%rax, %cr3
	nop
	hlt
