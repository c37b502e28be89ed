/*
 * fuzz_image.c - libFuzzer target for the ELF loader: any byte string must
 * be refused with a message or give a plan whose every range lies inside
 * guest memory, above tincan's tables and below the stack, with the entry
 * in an executable segment. Run with `make fuzz` (bounded in time).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../runner/image.h"
#include "tincan_abi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint64_t mems[] = {TINCAN_MEM_MIN, TINCAN_MEM_DEFAULT,
                                    TINCAN_MEM_MAX};
    struct sbx_job job;
    char err[256];

    memset(&job, 0, sizeof(job));
    job.mem_size = mems[size % 3];
    if (image_elf(&job, data, size, err, sizeof(err)) != 0) {
        if (!err[0] || !memchr(err, '\0', sizeof(err)))
            abort(); /* every refusal says why */
        return 0;
    }
    uint64_t limit = image_sdk_guard(job.mem_size);
    int entry_ok = 0;
    if (job.nsegs == 0 || job.nsegs > SBX_MAX_SEGMENTS)
        abort();
    for (unsigned i = 0; i < job.nsegs; i++) {
        const struct sbx_segment *s = &job.segs[i];
        if (s->gpa < TINCAN_ENTRY || s->memsz > limit ||
            s->gpa > limit - s->memsz || s->filesz > s->memsz ||
            s->data < data || s->filesz > size ||
            (size_t)(s->data - data) > size - s->filesz)
            abort();
        if (s->exec && job.entry >= s->gpa && job.entry - s->gpa < s->memsz)
            entry_ok = 1;
    }
    if (!entry_ok)
        abort();
    if (image_place_input(&job, data, size, err, sizeof(err)) == 0 &&
        (job.input_addr > limit || size > limit - job.input_addr))
        abort();
    return 0;
}
