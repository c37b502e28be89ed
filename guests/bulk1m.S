/* bulk1m: one bulk write of 1 MiB of pattern bytes (byte[i] = (i*7+3)&0xff) at 0x100000 -> status ok, exit code 0, output exactly those 1048576 bytes (needs --mem >= 2 MiB and --max-output >= 1 MiB). */
#include "tincan_abi.h"
#include "guest.inc"

#define LEN 0x100000

	.code64
	.text
	.globl	_start
_start:
	movl	$SCRATCH, %edi
	movl	$LEN, %ecx
	fill_pattern
	movl	$desc, %eax
	outl	%eax, $TINCAN_PORT_WRITE
	exit_ok

	.balign	8
desc:	.quad	SCRATCH, LEN
