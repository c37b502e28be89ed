/*
 * zygote_blob.S - the tincan-zygote executable (sandbox/zyg.c), built into
 * the library as bytes: runner/zygote.c writes them into a sealed memfd and
 * execs that, so a library user installs and configures nothing for it.
 * ZYGOTE_BIN is its path, given by the Makefile.
 */
        .section .rodata
        .balign 16
        .globl  tincan_zygote_image
        .type   tincan_zygote_image, @object
tincan_zygote_image:
        .incbin ZYGOTE_BIN
        .globl  tincan_zygote_image_end
tincan_zygote_image_end:
        .size   tincan_zygote_image, tincan_zygote_image_end - tincan_zygote_image
        .section .note.GNU-stack, "", @progbits
