/*
 * lxstart.h - how a static Linux executable starts in guest memory,
 * decided in the parent before the fork: the heap, the guard below the
 * stack, the stack size, and the initial process stack of the SysV x86-64
 * ABI (argc, argv, envp, the auxiliary vector and the strings they point
 * to), built here as one segment at the top of guest memory.
 */
#ifndef RUNNER_LXSTART_H
#define RUNNER_LXSTART_H

#include <stddef.h>
#include <stdint.h>

#include "../sandbox/sandbox.h"
#include "image.h"

/* The stack: min(LXSTART_STACK_MAX, mem / 4), its bottom aligned down to
 * LXSTART_GUARD, which is also the size of the not-present guard below. */
#define LXSTART_STACK_MAX  (8ULL << 20) /* Linux's default RLIMIT_STACK */
#define LXSTART_GUARD      (64ULL << 10)
#define LXSTART_STRING_MAX (128ULL << 10) /* one argument: MAX_ARG_STRLEN */

struct lxstart_args {
    const char *name;        /* argv[0], AT_EXECFN */
    const char *const *args; /* argv[1..] */
    size_t nargs;
    const char *const *env; /* "K=V" */
    size_t nenv;
    uint64_t seed; /* AT_RANDOM, getrandom */
    int strict;    /* --strict-syscalls */
};

/*
 * Plan job (its segments loaded by image_elf_linux, described by in) as a
 * Linux process: fills job->lx and job->guard, and *stack with the bytes
 * of job->lx.stack (malloc'd; free() it after the job). Returns 0, or
 * -EINVAL (-ENOMEM) with one line in err: no room for a heap or for the
 * arguments in this much guest memory.
 */
int lxstart_plan(struct sbx_job *job, const struct image_elf_info *in,
                 const struct lxstart_args *a, uint8_t **stack, char *err,
                 size_t errlen);

#endif
