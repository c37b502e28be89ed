/*
 * image.h - what goes into a job's guest memory, decided in the parent
 * before the fork: a flat binary at TINCAN_ENTRY, or the PT_LOAD segments of
 * a static ELF64 x86-64 executable, and the input after the highest of them.
 * Every offset and size is checked, overflow-safe, against the file and
 * against guest memory; each refusal names the problem in one line.
 */
#ifndef RUNNER_IMAGE_H
#define RUNNER_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../sandbox/sandbox.h"

/* 1 when p starts with the ELF magic. */
int image_is_elf(const uint8_t *p, size_t len);

/*
 * Fill job's segments and entry from a flat binary or an ELF file (job->
 * mem_size must be set). The job keeps pointers into code. Returns 0 or
 * -EINVAL with a message in err.
 */
int image_raw(struct sbx_job *job, const uint8_t *code, size_t len, char *err,
              size_t errlen);
int image_elf(struct sbx_job *job, const uint8_t *file, size_t len, char *err,
              size_t errlen);

/* What an ELF file says about itself: the ABI it is written against, and
 * what a Linux start needs. Addresses are the file's, before any bias. */
struct image_elf_info {
    unsigned type;         /* ET_EXEC, or ET_DYN (static-pie) */
    int interp;            /* names an interpreter: dynamically linked */
    int tincan_note;       /* has tincan's ABI note (an SDK guest) */
    uint32_t note_abi;     /* ... the ABI version it gives */
    uint64_t entry;        /* e_entry */
    uint64_t phdr;         /* where the program headers lie in memory, or 0 */
    uint64_t phdr_in_load; /* ... found inside a PT_LOAD's bytes, or 0 */
    uint16_t phnum;
    const uint8_t *phdrs; /* the program headers, inside the file */
    uint64_t lo;          /* lowest PT_LOAD address */
    uint64_t align;       /* largest PT_LOAD alignment */
    uint64_t bias;        /* image_elf_linux: added to every address */
};

/* The header, program headers and notes of file, checked; no plan. Returns
 * 0 or -EINVAL with a message in err. */
int image_elf_info(const uint8_t *file, size_t len, struct image_elf_info *in,
                   char *err, size_t errlen);

/* Like image_elf, for a static Linux executable: ET_EXEC at its addresses,
 * or a static-pie (ET_DYN) moved up to TINCAN_ENTRY (in->bias); a dynamic
 * one (PT_INTERP) is refused saying to link statically. Fills in. */
int image_elf_linux(struct sbx_job *job, const uint8_t *file, size_t len,
                    struct image_elf_info *in, char *err, size_t errlen);

/* An SDK guest's guard page below its stack (TINCAN_STACK_MAX): code,
 * input and .bss end below it. */
uint64_t image_sdk_guard(uint64_t mem_size);

/* Place the input at the first page after the image; check that it fits. */
int image_place_input(struct sbx_job *job, const uint8_t *input, size_t len,
                      char *err, size_t errlen);

#endif
