/* ud2: ud2 at the entry -> status fault, #UD vector 6, no error code, rip=0x10000. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	ud2
