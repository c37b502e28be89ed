/* x87_mmio: fistps to 0xC0000000 (mapped, no memory), an instruction KVM's emulator cannot run -> status mmio, write at 0xc0000000 (size 2 on the emulator; 0, unknown, on KVM; internal_error on Intel KVM, which gives no address). */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movl	$0xC0000000, %eax
	fistps	(%rax)
	hlt
