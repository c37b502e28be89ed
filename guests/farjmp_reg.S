/* farjmp_reg: a far jmp through a register (FF /5 with mod 3), which does not exist -> status fault, #UD vector 6, rip 0x10000 on KVM; on the emulator Unicorn 2.0.1's code generator aborts on it -> status internal_error, "the emulator (Unicorn) aborted: ...". */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	.byte	0xff, 0xe8	/* ljmp *%eax: not encodable by name */
	hlt
