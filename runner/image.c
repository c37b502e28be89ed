/*
 * image.c - loading flat binaries and static ELF64 executables into a job's
 * memory plan (see image.h). Only headers are read here; the child copies
 * the bytes. Nothing is trusted: the file may be hostile.
 */
#include "image.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tincan_abi.h"

#define PAGE 0x1000ULL

static int refuse(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Where loaded bytes may go: above tincan's tables, below the stack. */
static uint64_t load_end(const struct sbx_job *job)
{
    return job->mem_size - TINCAN_STACK_MIN;
}

static int check_mem(const struct sbx_job *job, char *err, size_t errlen)
{
    if (job->mem_size < TINCAN_MEM_MIN || job->mem_size > TINCAN_MEM_MAX ||
        job->mem_size % PAGE)
        return refuse(err, errlen,
                      "guest memory of %" PRIu64 " bytes is not a multiple "
                      "of 4 KiB between 1 MiB and 1 GiB",
                      job->mem_size);
    return 0;
}

int image_is_elf(const uint8_t *p, size_t len)
{
    return len >= SELFMAG && memcmp(p, ELFMAG, SELFMAG) == 0;
}

int image_raw(struct sbx_job *job, const uint8_t *code, size_t len, char *err,
              size_t errlen)
{
    int rc = check_mem(job, err, errlen);

    if (rc)
        return rc;
    if (len == 0)
        return refuse(err, errlen, "the code is empty: give at least one byte");
    if (len > load_end(job) - TINCAN_ENTRY)
        return refuse(err, errlen,
                      "the code (%zu bytes) does not fit in %" PRIu64
                      " KiB of guest memory (at most %" PRIu64
                      " bytes): raise --mem",
                      len, job->mem_size >> 10, load_end(job) - TINCAN_ENTRY);
    job->segs[0] = (struct sbx_segment){
        .gpa = TINCAN_ENTRY, .data = code, .filesz = len, .memsz = len};
    job->nsegs = 1;
    job->entry = TINCAN_ENTRY;
    return 0;
}

static int check_header(const Elf64_Ehdr *eh, size_t len, char *err,
                        size_t errlen)
{
    if (len < sizeof(*eh))
        return refuse(err, errlen,
                      "ELF: truncated: %zu bytes, the header alone needs %zu",
                      len, sizeof(*eh));
    if (eh->e_ident[EI_CLASS] != ELFCLASS64)
        return refuse(err, errlen,
                      "ELF: class %u is not ELFCLASS64; tincan runs 64-bit "
                      "code",
                      eh->e_ident[EI_CLASS]);
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return refuse(err, errlen, "ELF: data encoding %u is not little-endian",
                      eh->e_ident[EI_DATA]);
    if (eh->e_machine != EM_X86_64)
        return refuse(err, errlen, "ELF: machine %u is not x86-64 (%u)",
                      eh->e_machine, EM_X86_64);
    if (eh->e_type != ET_EXEC)
        return refuse(err, errlen,
                      "ELF: type %u is not a static executable (ET_EXEC); "
                      "link with -static -no-pie",
                      eh->e_type);
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return refuse(err, errlen, "ELF: program header size %u, expected %zu",
                      eh->e_phentsize, sizeof(Elf64_Phdr));
    if (eh->e_phoff > len ||
        (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > len - eh->e_phoff)
        return refuse(err, errlen,
                      "ELF: truncated: %u program headers at offset %" PRIu64
                      " run past the end of the %zu-byte file",
                      eh->e_phnum, (uint64_t)eh->e_phoff, len);
    return 0;
}

static int add_segment(struct sbx_job *job, unsigned idx, const Elf64_Phdr *ph,
                       const uint8_t *file, size_t len, char *err,
                       size_t errlen)
{
    uint64_t lo = ph->p_vaddr, hi;

    if (ph->p_offset > len || ph->p_filesz > len - ph->p_offset)
        return refuse(err, errlen,
                      "ELF: segment %u: file range [%" PRIu64 ", +%" PRIu64
                      ") lies outside the %zu-byte file",
                      idx, (uint64_t)ph->p_offset, (uint64_t)ph->p_filesz, len);
    if (ph->p_filesz > ph->p_memsz)
        return refuse(err, errlen,
                      "ELF: segment %u: file size 0x%" PRIx64
                      " exceeds its memory size 0x%" PRIx64,
                      idx, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
    if (lo < TINCAN_ENTRY)
        return refuse(err, errlen,
                      "ELF: segment %u at 0x%" PRIx64
                      " overlaps tincan's page tables, GDT and IDT in "
                      "[0, 0x%x); link at 0x%x or above",
                      idx, lo, TINCAN_ENTRY, TINCAN_ENTRY);
    if (ph->p_memsz > load_end(job) || lo > load_end(job) - ph->p_memsz)
        return refuse(err, errlen,
                      "ELF: segment %u [0x%" PRIx64 ", +0x%" PRIx64
                      ") does not fit below the stack at 0x%" PRIx64
                      ": raise --mem",
                      idx, lo, (uint64_t)ph->p_memsz, load_end(job));
    hi = lo + ph->p_memsz;
    for (unsigned i = 0; i < job->nsegs; i++) {
        const struct sbx_segment *s = &job->segs[i];
        if (lo < s->gpa + s->memsz && s->gpa < hi)
            return refuse(err, errlen,
                          "ELF: segment %u [0x%" PRIx64 ", 0x%" PRIx64
                          ") overlaps another loadable segment",
                          idx, lo, hi);
    }
    if (job->nsegs == SBX_MAX_SEGMENTS)
        return refuse(err, errlen, "ELF: more than %d loadable segments",
                      SBX_MAX_SEGMENTS);
    job->segs[job->nsegs++] = (struct sbx_segment){
        .gpa = lo,
        .data = file + ph->p_offset,
        .filesz = ph->p_filesz,
        .memsz = ph->p_memsz,
        .exec = !!(ph->p_flags & PF_X),
    };
    return 0;
}

int image_elf(struct sbx_job *job, const uint8_t *file, size_t len, char *err,
              size_t errlen)
{
    Elf64_Ehdr eh;
    int rc = check_mem(job, err, errlen);

    if (rc)
        return rc;
    if (!image_is_elf(file, len))
        return refuse(err, errlen, "ELF: no ELF magic at the start");
    memcpy(&eh, file, len < sizeof(eh) ? len : sizeof(eh));
    rc = check_header(&eh, len, err, errlen);
    if (rc)
        return rc;
    job->nsegs = 0;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        rc = add_segment(job, i, &ph, file, len, err, errlen);
        if (rc)
            return rc;
    }
    if (job->nsegs == 0)
        return refuse(err, errlen, "ELF: no loadable (PT_LOAD) segment");
    for (unsigned i = 0; i < job->nsegs; i++) {
        const struct sbx_segment *s = &job->segs[i];
        if (s->exec && eh.e_entry >= s->gpa && eh.e_entry - s->gpa < s->memsz) {
            job->entry = eh.e_entry;
            return 0;
        }
    }
    return refuse(err, errlen,
                  "ELF: entry point 0x%" PRIx64
                  " is not inside an executable segment",
                  (uint64_t)eh.e_entry);
}

int image_place_input(struct sbx_job *job, const uint8_t *input, size_t len,
                      char *err, size_t errlen)
{
    uint64_t top = 0, at;

    for (unsigned i = 0; i < job->nsegs; i++)
        if (job->segs[i].gpa + job->segs[i].memsz > top)
            top = job->segs[i].gpa + job->segs[i].memsz;
    at = (top + PAGE - 1) & ~(PAGE - 1);
    if (at > load_end(job) || len > load_end(job) - at)
        return refuse(err, errlen,
                      "the input (%zu bytes) does not fit after the code in "
                      "%" PRIu64 " KiB of guest memory: raise --mem",
                      len, job->mem_size >> 10);
    job->input = input;
    job->input_len = len;
    job->input_addr = at;
    return 0;
}
