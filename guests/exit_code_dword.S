/* exit_code_dword: outl 0x12345678 to the exit port -> status ok, exit code 0x12345678 (305419896; CLI exit status 0x78 = 120), no output. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	movl	$0x12345678, %eax
	outl	%eax, $TINCAN_PORT_EXIT
	ud2
