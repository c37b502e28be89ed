/*
 * magic_libfuzzer.c - the magic guest's bug (guests/fuzz/magic.h) as a
 * native libFuzzer target, built by make bench with Debian's clang
 * (-fsanitize=fuzzer: edge coverage and compare tracing, in-process): the
 * ceiling for fuzz_time_to_magic_s, which runs the same C function as a
 * tincan guest. The null store ends the process with SIGSEGV, which
 * libFuzzer reports as the crash.
 */
#include <stddef.h>
#include <stdint.h>

#include "../../guests/fuzz/magic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    magic_parse(data, size);
    return 0;
}
