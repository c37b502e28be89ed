/* rex_r_mov: movb $1, (%rsp) with a REX.R prefix, which the CPU ignores -> status ok on KVM; Unicorn reads the opcode extension with REX.R added and raises #UD -> fault on the emulator (test_differential's emu_grp11_rex_r class). The emulator quirk that tincan fuzz --confirm must not report as a crash. */
#include "tincan_abi.h"
	.code64
	.text
	.globl	_start
_start:
	subq	$8, %rsp
	.byte	0x44, 0xc6, 0x04, 0x24, 0x01	/* rex.R movb $1, (%rsp) */
	hlt
