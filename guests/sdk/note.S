/*
 * note.S - the ELF note that marks a tincan guest (tincan_abi.h): owner
 * "tincan", type TINCAN_NOTE_ABI, the guest ABI version. guests.mk links it
 * into every guest, C or assembly, and guest.ld keeps it inside the loaded
 * image, so `tincan run` runs the ELF as a tincan guest, not as a Linux
 * program.
 */
#include "tincan_abi.h"

	.section .note.tincan, "a", @note
	.balign	4
	.long	TINCAN_NOTE_NAMESZ	/* namesz */
	.long	4			/* descsz */
	.long	TINCAN_NOTE_ABI		/* type */
	.asciz	TINCAN_NOTE_NAME
	.balign	4
	.long	TINCAN_ABI_VERSION
	.balign	4

	.section .note.GNU-stack, "", @progbits
