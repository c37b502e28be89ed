/*
 * lxstart.c - a Linux process's start in guest memory (see lxstart.h). The
 * stack follows Linux's create_elf_tables(): from the top of memory down, an
 * 8-byte end marker, the strings (argv, envp, then the file name AT_EXECFN
 * points to), the platform string, AT_RANDOM's 16 bytes, a copy of the
 * program headers when no segment holds them, then 16-byte aligned: argc,
 * argv[], NULL, envp[], NULL, the auxiliary vector, AT_NULL.
 */
#include "lxstart.h"

#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sandbox/cpuid.h"
#include "../sandbox/lx.h"
#include "tincan_abi.h"

#define PAGE           0x1000ULL
#define END_MARKER     8  /* zero bytes at the very top, as Linux */
#define RANDOM_BYTES   16 /* AT_RANDOM */
#define STACK_ALIGN    16 /* rsp at entry, SysV x86-64 ABI 3.4.1 */
#define MINSIGSTKSZ_   2048
#define CLK_TCK_       100
#define LX_SALT_RANDOM 2  /* AT_RANDOM's bytes, apart from getrandom's */
#define NAUXV          20 /* entries below, AT_NULL included */

static const char platform[] = "x86_64";

static int __attribute__((format(printf, 3, 4)))
refuse(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static uint64_t align_down(uint64_t v, uint64_t a)
{
    return v & ~(a - 1);
}

/* Bytes of the strings and of the vectors' words, checked. The name goes
 * on the stack twice: AT_EXECFN's and argv[0]. */
static int measure(const struct lxstart_args *a, uint64_t *strings, char *err,
                   size_t errlen)
{
    uint64_t n = 2 * (strlen(a->name) + 1);

    for (size_t i = 0; i < a->nargs; i++) {
        size_t l = strlen(a->args[i]);
        if (l >= LXSTART_STRING_MAX)
            return refuse(err, errlen,
                          "argument %zu is %zu bytes long; at most %llu", i + 1,
                          l, (unsigned long long)LXSTART_STRING_MAX - 1);
        n += l + 1;
    }
    for (size_t i = 0; i < a->nenv; i++) {
        size_t l = strlen(a->env[i]);
        if (l >= LXSTART_STRING_MAX)
            return refuse(err, errlen,
                          "environment entry %zu is %zu bytes long; at most "
                          "%llu",
                          i + 1, l, (unsigned long long)LXSTART_STRING_MAX - 1);
        n += l + 1;
    }
    *strings = n;
    return 0;
}

/* Copy s to guest address *at (moving down), return its address. */
static uint64_t push_string(uint8_t *buf, uint64_t base, uint64_t *at,
                            const char *s)
{
    size_t n = strlen(s) + 1;

    *at -= n;
    memcpy(buf + (*at - base), s, n);
    return *at;
}

static void put_word(uint8_t *buf, uint64_t base, uint64_t at, uint64_t v)
{
    memcpy(buf + (at - base), &v, sizeof(v));
}

int lxstart_plan(struct sbx_job *job, const struct image_elf_info *in,
                 const struct lxstart_args *a, uint8_t **stack, char *err,
                 size_t errlen)
{
    uint64_t mem = job->mem_size, hi = 0, strings = 0, words, bottom, top = mem;
    uint64_t stack_size =
        mem / 4 < LXSTART_STACK_MAX ? mem / 4 : LXSTART_STACK_MAX;
    uint64_t phdr_bytes = 0, at, sp, base, i;
    uint8_t *buf;
    int rc;

    *stack = NULL;
    if (strlen(a->name) >= SBX_LX_NAME_MAX)
        return refuse(err, errlen, "the program's name is over %d bytes",
                      SBX_LX_NAME_MAX - 1);
    for (unsigned s = 0; s < job->nsegs; s++)
        if (job->segs[s].gpa + job->segs[s].memsz > hi)
            hi = job->segs[s].gpa + job->segs[s].memsz;
    bottom = align_down(mem - stack_size, LXSTART_GUARD);
    job->guard = bottom - LXSTART_GUARD;
    job->guard_len = LXSTART_GUARD;
    job->lx.brk_start = (hi + PAGE - 1) & ~(PAGE - 1);
    job->lx.heap_end = job->guard;
    job->lx.stack_size = mem - bottom;
    job->lx.seed = a->seed;
    job->lx.strict = a->strict;
    snprintf(job->lx.name, sizeof(job->lx.name), "%s", a->name);
    if (hi > job->guard || job->lx.brk_start >= job->lx.heap_end)
        return refuse(err, errlen,
                      "the program (up to 0x%" PRIx64 ") leaves no room for "
                      "a heap and a %" PRIu64 " KiB stack in %" PRIu64
                      " KiB of guest memory: raise --mem",
                      hi, stack_size >> 10, mem >> 10);

    rc = measure(a, &strings, err, errlen);
    if (rc)
        return rc;
    if (!in->phdr)
        phdr_bytes = (uint64_t)in->phnum * sizeof(Elf64_Phdr);
    words = 1 + (a->nargs + 1) + 1 + (a->nenv + 1) + 2 * NAUXV;
    uint64_t need = END_MARKER + strings + sizeof(platform) + RANDOM_BYTES +
                    phdr_bytes + 8 * words + 2 * STACK_ALIGN;
    if (need > job->lx.stack_size / 4)
        return refuse(err, errlen,
                      "the arguments and environment take %" PRIu64
                      " bytes; a %" PRIu64 " KiB stack holds at most %" PRIu64
                      " (a quarter): raise --mem",
                      need, job->lx.stack_size >> 10, job->lx.stack_size / 4);

    base = align_down(top - need, STACK_ALIGN);
    buf = calloc(1, top - base);
    if (!buf) {
        snprintf(err, errlen, "allocating the process stack: %s",
                 strerror(ENOMEM));
        return -ENOMEM;
    }
    /* The strings, from the top down. */
    at = top - END_MARKER;
    uint64_t execfn = push_string(buf, base, &at, a->name);
    uint64_t *envp = calloc(a->nenv + 1, 8), *argv = calloc(a->nargs + 2, 8);
    if (!envp || !argv) {
        free(envp);
        free(argv);
        free(buf);
        snprintf(err, errlen, "allocating the process stack: %s",
                 strerror(ENOMEM));
        return -ENOMEM;
    }
    for (i = a->nenv; i-- > 0;)
        envp[i] = push_string(buf, base, &at, a->env[i]);
    for (i = a->nargs; i-- > 0;)
        argv[i + 1] = push_string(buf, base, &at, a->args[i]);
    argv[0] = push_string(buf, base, &at, a->name);
    uint64_t plat = push_string(buf, base, &at, platform);
    at = align_down(at - RANDOM_BYTES, 8);
    uint64_t random = at;
    lx_seed_bytes(a->seed, LX_SALT_RANDOM, buf + (random - base), RANDOM_BYTES);
    uint64_t phdr = in->phdr ? in->phdr + in->bias : 0;
    if (!phdr) {
        /* No segment holds the headers (glibc needs them for its TLS): a
         * copy goes on the stack, and AT_PHDR points there. */
        at = align_down(at - phdr_bytes, 8);
        phdr = at;
        memcpy(buf + (at - base), (const uint8_t *)in->phdrs, phdr_bytes);
    }
    sp = align_down(at - 8 * words, STACK_ALIGN);

    const uint64_t auxv[NAUXV][2] = {
        {AT_MINSIGSTKSZ, MINSIGSTKSZ_},
        {AT_HWCAP, 0}, /* the child writes CPUID.1:EDX: job->lx.hwcap_at */
        {AT_PAGESZ, PAGE},
        {AT_CLKTCK, CLK_TCK_},
        {AT_PHDR, phdr},
        {AT_PHENT, sizeof(Elf64_Phdr)},
        {AT_PHNUM, in->phnum},
        {AT_BASE, 0},
        {AT_FLAGS, 0},
        {AT_ENTRY, job->entry},
        {AT_UID, LX_UID},
        {AT_EUID, LX_UID},
        {AT_GID, LX_GID},
        {AT_EGID, LX_GID},
        {AT_SECURE, 0},
        {AT_RANDOM, random},
        {AT_HWCAP2, CPUID_HWCAP2},
        {AT_EXECFN, execfn},
        {AT_PLATFORM, plat},
        {AT_NULL, 0},
    };
    at = sp;
    put_word(buf, base, at, a->nargs + 1);
    at += 8;
    for (i = 0; i < a->nargs + 1; i++, at += 8)
        put_word(buf, base, at, argv[i]);
    at += 8; /* argv's NULL */
    for (i = 0; i < a->nenv; i++, at += 8)
        put_word(buf, base, at, envp[i]);
    at += 8; /* envp's NULL */
    for (i = 0; i < NAUXV; i++, at += 16) {
        put_word(buf, base, at, auxv[i][0]);
        put_word(buf, base, at + 8, auxv[i][1]);
        if (auxv[i][0] == AT_HWCAP)
            job->lx.hwcap_at = at + 8;
    }
    free(envp);
    free(argv);

    job->lx.sp = sp;
    job->lx.stack = (struct sbx_segment){
        .gpa = base, .data = buf, .filesz = top - base, .memsz = top - base};
    *stack = buf;
    return 0;
}
