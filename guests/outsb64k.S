/* outsb64k: rep outsb of 65536 pattern bytes (byte[i] = (i*7+3)&0xff) -> status ok, exit code 0, output exactly those 65536 bytes. */
#include "tincan_abi.h"
#include "guest.inc"

#define LEN 65536

	.code64
	.text
	.globl	_start
_start:
	movl	$SCRATCH, %edi
	movl	$LEN, %ecx
	fill_pattern
	movl	$SCRATCH, %esi
	movl	$LEN, %ecx
	movw	$TINCAN_PORT_OUTPUT, %dx
	cld
	rep outsb
	exit_ok
