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

uint64_t image_sdk_guard(uint64_t mem_size)
{
    uint64_t stack =
        mem_size / 4 < TINCAN_STACK_MAX ? mem_size / 4 : TINCAN_STACK_MAX;

    return (mem_size - stack) / PAGE * PAGE - TINCAN_GUARD_SIZE;
}

/* Where loaded bytes may go: above tincan's tables, below the SDK's stack
 * guard (a Linux guest's layout is lxstart.c's, checked there). */
static uint64_t load_end(const struct sbx_job *job)
{
    if (job->abi == SBX_ABI_LINUX)
        return job->mem_size - TINCAN_STACK_MIN;
    return image_sdk_guard(job->mem_size);
}

/* An SDK guest's guard below its stack. */
static void set_guard(struct sbx_job *job)
{
    job->guard = image_sdk_guard(job->mem_size);
    job->guard_len = TINCAN_GUARD_SIZE;
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
                      " bytes below the stack): raise --mem",
                      len, job->mem_size >> 10, load_end(job) - TINCAN_ENTRY);
    job->segs[0] = (struct sbx_segment){
        .gpa = TINCAN_ENTRY, .data = code, .filesz = len, .memsz = len};
    job->nsegs = 1;
    job->entry = TINCAN_ENTRY;
    set_guard(job);
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
                       uint64_t bias, const uint8_t *file, size_t len,
                       char *err, size_t errlen)
{
    uint64_t lo = ph->p_vaddr + bias, hi;

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
    if (lo < bias || lo < TINCAN_ENTRY)
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

static Elf64_Phdr phdr_at(const uint8_t *file, const Elf64_Ehdr *eh, unsigned i)
{
    Elf64_Phdr ph;

    memcpy(&ph, file + eh->e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
    return ph;
}

/* The PT_LOAD segments at vaddr + bias, and the entry point. */
static int load_segments(struct sbx_job *job, const Elf64_Ehdr *eh,
                         const uint8_t *file, size_t len, uint64_t bias,
                         char *err, size_t errlen)
{
    int rc;

    job->nsegs = 0;
    for (unsigned i = 0; i < eh->e_phnum; i++) {
        Elf64_Phdr ph = phdr_at(file, eh, i);
        if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        rc = add_segment(job, i, &ph, bias, file, len, err, errlen);
        if (rc)
            return rc;
    }
    if (job->nsegs == 0)
        return refuse(err, errlen, "ELF: no loadable (PT_LOAD) segment");
    uint64_t entry = eh->e_entry + bias;
    for (unsigned i = 0; i < job->nsegs; i++) {
        const struct sbx_segment *s = &job->segs[i];
        if (s->exec && entry >= s->gpa && entry - s->gpa < s->memsz) {
            job->entry = entry;
            return 0;
        }
    }
    return refuse(err, errlen,
                  "ELF: entry point 0x%" PRIx64
                  " is not inside an executable segment",
                  entry);
}

/* The notes of one PT_NOTE segment: is tincan's among them? */
static void scan_notes(const uint8_t *p, uint64_t n, struct image_elf_info *in)
{
    uint64_t at = 0;

    while (n - at >= 12) {
        uint32_t w[3];
        memcpy(w, p + at, sizeof(w));
        uint64_t name = (w[0] + 3ULL) & ~3ULL, desc = (w[1] + 3ULL) & ~3ULL;
        at += 12;
        if (name > n - at || desc > n - at - name)
            return;
        if (w[0] == TINCAN_NOTE_NAMESZ && w[2] == TINCAN_NOTE_ABI &&
            w[1] == 4 && memcmp(p + at, TINCAN_NOTE_NAME, w[0]) == 0) {
            in->tincan_note = 1;
            memcpy(&in->note_abi, p + at + name, 4);
        }
        at += name + desc;
    }
}

int image_elf_info(const uint8_t *file, size_t len, struct image_elf_info *in,
                   char *err, size_t errlen)
{
    Elf64_Ehdr eh;
    int rc;

    memset(in, 0, sizeof(*in));
    if (!image_is_elf(file, len))
        return refuse(err, errlen, "ELF: no ELF magic at the start");
    memcpy(&eh, file, len < sizeof(eh) ? len : sizeof(eh));
    rc = check_header(&eh, len, err, errlen);
    if (rc)
        return rc;
    in->type = eh.e_type;
    in->entry = eh.e_entry;
    in->phnum = eh.e_phnum;
    in->phdrs = file + eh.e_phoff;
    in->lo = UINT64_MAX;
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph = phdr_at(file, &eh, i);
        switch (ph.p_type) {
        case PT_INTERP:
            in->interp = 1;
            break;
        case PT_PHDR:
            in->phdr = ph.p_vaddr;
            break;
        case PT_NOTE:
            if (ph.p_offset <= len && ph.p_filesz <= len - ph.p_offset)
                scan_notes(file + ph.p_offset, ph.p_filesz, in);
            break;
        case PT_LOAD:
            if (ph.p_memsz == 0)
                break;
            if (ph.p_vaddr < in->lo)
                in->lo = ph.p_vaddr;
            if (ph.p_align > in->align)
                in->align = ph.p_align;
            /* The headers inside this segment's file bytes: their address
             * when no PT_PHDR names it. */
            if (!in->phdr_in_load && eh.e_phoff >= ph.p_offset &&
                eh.e_phoff - ph.p_offset < ph.p_filesz &&
                (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) <=
                    ph.p_filesz - (eh.e_phoff - ph.p_offset)) {
                in->phdr_in_load = ph.p_vaddr + (eh.e_phoff - ph.p_offset);
            }
            break;
        default:
            break;
        }
    }
    if (!in->phdr)
        in->phdr = in->phdr_in_load;
    if (in->lo == UINT64_MAX)
        in->lo = 0;
    return 0;
}

int image_elf(struct sbx_job *job, const uint8_t *file, size_t len, char *err,
              size_t errlen)
{
    Elf64_Ehdr eh;
    struct image_elf_info in;
    int rc = check_mem(job, err, errlen);

    if (rc)
        return rc;
    rc = image_elf_info(file, len, &in, err, errlen);
    if (rc)
        return rc;
    if (in.type != ET_EXEC)
        return refuse(err, errlen,
                      "ELF: type %u is not a static executable (ET_EXEC); "
                      "link with -static -no-pie",
                      in.type);
    memcpy(&eh, file, sizeof(eh));
    rc = load_segments(job, &eh, file, len, 0, err, errlen);
    if (rc == 0)
        set_guard(job);
    return rc;
}

int image_elf_linux(struct sbx_job *job, const uint8_t *file, size_t len,
                    struct image_elf_info *in, char *err, size_t errlen)
{
    Elf64_Ehdr eh;
    int rc = check_mem(job, err, errlen);

    if (rc)
        return rc;
    rc = image_elf_info(file, len, in, err, errlen);
    if (rc)
        return rc;
    if (in->interp)
        return refuse(err, errlen,
                      "ELF: a dynamically linked executable (it names an "
                      "interpreter, PT_INTERP); tincan runs static programs "
                      "only: link with -static");
    if (in->type != ET_EXEC && in->type != ET_DYN)
        return refuse(err, errlen,
                      "ELF: type %u is not an executable (ET_EXEC, or ET_DYN "
                      "for static-pie); link with -static",
                      in->type);
    in->bias = 0;
    if (in->type == ET_DYN && in->lo < TINCAN_ENTRY) {
        /* static-pie: above tincan's pages, keeping the segments' alignment */
        uint64_t a = in->align > PAGE ? in->align : PAGE;
        if (a > TINCAN_MEM_MAX)
            return refuse(err, errlen,
                          "ELF: segment alignment 0x%" PRIx64 " is over 1 GiB",
                          a);
        in->bias = ((TINCAN_ENTRY + a - 1) & ~(a - 1)) - (in->lo & ~(a - 1));
    }
    memcpy(&eh, file, sizeof(eh));
    return load_segments(job, &eh, file, len, in->bias, err, errlen);
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
