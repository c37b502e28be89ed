/* triple_fault: lidt with limit 0, then ud2 (#UD -> #GP -> #DF -> triple fault) -> status shutdown. */
#include "tincan_abi.h"

	.code64
	.text
	.globl	_start
_start:
	pushq	$0			/* 16 zero bytes: IDTR limit 0, base 0 */
	pushq	$0
	lidt	(%rsp)
	ud2
