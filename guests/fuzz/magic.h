/*
 * magic.h - the planted bug of guests/fuzz/magic.c, shared with its native
 * libFuzzer build in make bench (tests/bench/magic_libfuzzer.c): a 4-byte
 * magic value at the start of the input guards a write through a null
 * pointer. Built with -DTINCAN_FUZZ_FIXED the write is gone.
 */
#ifndef GUESTS_FUZZ_MAGIC_H
#define GUESTS_FUZZ_MAGIC_H

#include <string.h>

#define MAGIC_WORD 0x4b4e4354u /* "TCNK" little-endian */

/* The record the magic selects; the parser forgot to allocate it. */
static int *volatile magic_record;

/* 1 when the input starts with the magic. */
static inline int magic_parse(const unsigned char *p, unsigned long n)
{
    unsigned int w;

    if (n < sizeof(w))
        return 0;
    memcpy(&w, p, sizeof(w));
    if (w != MAGIC_WORD)
        return 0;
#ifndef TINCAN_FUZZ_FIXED
    *magic_record = 1; /* the bug: a null dereference */
#endif
    return 1;
}

#endif
