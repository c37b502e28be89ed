/* spin: infinite loop -> status timeout, no output. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
1:	jmp	1b
