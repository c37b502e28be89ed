/* lret_mmio: a 32-bit far return pops its rip from the stack at rsp = MEM (16 MiB, no memory) -> status mmio, read of 4 bytes at 0x1000000. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	lretl
