/*
 * tincan.c - the C API over the runner: validates a job, prepares the host
 * once per process, runs the job and turns the shared report into a result.
 */
#include "tincan.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../guests/sdk/tincan_abi.h"
#include "../runner/image.h"
#include "../runner/job.h"
#include "../runner/lxstart.h"
#include "../runner/payload.h"
#include "../runner/pcache.h"
#include "../runner/zygote.h"
#include "../sandbox/kvm.h"
#include "../sandbox/sandbox.h"

#define MIRROR(a, b) _Static_assert((int)(a) == (int)(b), #a " != " #b)
MIRROR(TC_OK, SBX_OK);
MIRROR(TC_TIMEOUT, SBX_TIMEOUT);
MIRROR(TC_OUTPUT_LIMIT, SBX_OUTPUT_LIMIT);
MIRROR(TC_FAULT, SBX_FAULT);
MIRROR(TC_UNHANDLED_IO, SBX_UNHANDLED_IO);
MIRROR(TC_MMIO, SBX_MMIO);
MIRROR(TC_SHUTDOWN, SBX_SHUTDOWN);
MIRROR(TC_SANDBOX_VIOLATION, SBX_SANDBOX_VIOLATION);
MIRROR(TC_INTERNAL_ERROR, SBX_INTERNAL_ERROR);
MIRROR(TC_INSN_LIMIT, SBX_INSN_LIMIT);
MIRROR(TC_UNSUPPORTED_SYSCALL, SBX_UNSUPPORTED_SYSCALL);
MIRROR(TC_SIGNAL, SBX_SIGNAL);
MIRROR(TC_DEADLOCK, SBX_DEADLOCK);
MIRROR(TC_STATUS_COUNT, SBX_STATUS_COUNT);
MIRROR(TC_MIN_MEM, TINCAN_MEM_MIN);
MIRROR(TC_MAX_MEM, TINCAN_MEM_MAX);
MIRROR(TC_DEFAULT_MEM, TINCAN_MEM_DEFAULT);
_Static_assert(TC_MESSAGE_MAX >= SBX_MESSAGE_MAX, "message size");
MIRROR(TC_SOURCE_PATH, PAYLOAD_PATH);
MIRROR(TC_SOURCE_HEX, PAYLOAD_HEX);
MIRROR(TC_SOURCE_B64, PAYLOAD_B64);
MIRROR(TC_SOURCE_URL, PAYLOAD_URL);
MIRROR(TC_DEFAULT_FETCH_TIMEOUT_MS, PAYLOAD_DEFAULT_FETCH_TIMEOUT_MS);
MIRROR(TC_DEFAULT_MAX_FETCH, PAYLOAD_DEFAULT_MAX_FETCH);
MIRROR(TC_COVERAGE_MAP_SIZE, SBX_EDGE_MAP_SIZE);
MIRROR(TC_MAX_CMPS, SBX_CMP_MAX);
MIRROR(TC_CMPS_PER_SITE, SBX_CMP_PER_SITE);

#define LANE_HINT                                                              \
    "; to run here without KVM, use the KVM lane: tests/vm/run build/tincan "  \
    "run ..."

static struct cgroup_ctx cgroups;
static int kvm_fd = -1;
static enum kvm_kind kvm_kind = KVM_KIND_NONE;
static char kvm_error[SBX_MESSAGE_MAX];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_exit(void)
{
    cgroup_fini(&cgroups); /* an empty directory by now */
}

/* Once per process: is KVM there, which kind, and can jobs have cgroups.
 * The zygotes start on first use of their backend (runner/zygote.c). */
static void host_init(void)
{
    kvm_fd = zygote_kvm_fd(kvm_error, sizeof(kvm_error));
    kvm_kind = zygote_kvm_kind();
    cgroup_init(&cgroups);
    if (cgroups.usable)
        atexit(host_exit);
}

int tc_cgroup_info(char *buf, size_t len)
{
    pthread_once(&host_once, host_init);
    if (cgroups.usable)
        snprintf(buf, len, "per-job cgroups under %s", cgroups.dir);
    else
        snprintf(buf, len, "no per-job cgroups (%s); relying on rlimits",
                 cgroups.why);
    return cgroups.usable;
}

void tc_job_init(struct tc_job *job)
{
    memset(job, 0, sizeof(*job));
    job->mem_size = TC_DEFAULT_MEM;
    job->timeout_ms = TC_DEFAULT_TIMEOUT_MS;
    job->max_output = TC_DEFAULT_MAX_OUTPUT;
    job->max_stderr = TC_DEFAULT_MAX_STDERR;
    job->seed = TC_DEFAULT_SEED;
    job->cancel_fd = -1;
}

void tc_fetch_options_init(struct tc_fetch_options *opts)
{
    struct payload_fetch f;

    payload_fetch_init(&f);
    memset(opts, 0, sizeof(*opts));
    opts->timeout_ms = f.timeout_ms;
    opts->max_bytes = f.max_bytes;
}

int tc_load(const struct tc_source *src, const struct tc_fetch_options *opts,
            void **out, size_t *len, char *err, size_t errlen)
{
    struct payload_spec spec = {
        .kind = (enum payload_kind)src->kind,
        .text = src->text,
        .sha256 = src->sha256,
    };
    struct payload_fetch f;
    uint8_t *bytes = NULL;
    int rc;

    payload_fetch_init(&f);
    if (opts) {
        f.timeout_ms = opts->timeout_ms;
        f.max_bytes = opts->max_bytes;
        f.allow_file_urls = opts->allow_file_urls;
        f.cacert = opts->cacert;
        f.cache_dir = opts->cache_dir;
        f.allow_hosts = opts->allow_hosts;
    }
    *out = NULL;
    *len = 0;
    if (f.timeout_ms == 0 || f.timeout_ms > TC_MAX_TIMEOUT_MS) {
        snprintf(err, errlen, "%s",
                 "the fetch timeout must be between 1 ms and 24 h");
        return -EINVAL;
    }
    rc = payload_load(&spec, &f, TC_MAX_MEM, &bytes, len, err, errlen);
    *out = bytes;
    return rc;
}

void tc_fetch_cache_clear(void)
{
    pcache_mem_clear();
}

const char *tc_status_name(enum tc_status st)
{
    return sbx_status_name((enum sbx_status)st);
}

unsigned tc_abi_version(void)
{
    return TINCAN_ABI_VERSION;
}

static int __attribute__((format(printf, 3, 4)))
refuse(struct tc_result *res, int rc, const char *fmt, ...)
{
    va_list ap;

    res->status = TC_INTERNAL_ERROR;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
    return rc;
}

/* The ABI of an ELF: tincan when it carries tincan's note, else linux. */
static int elf_abi(const struct tc_job *job, struct image_elf_info *info,
                   enum sbx_abi *abi, struct tc_result *res)
{
    char err[SBX_MESSAGE_MAX];

    if (image_elf_info(job->code, job->code_len, info, err, sizeof(err)))
        return refuse(res, -EINVAL, "%s", err);
    switch (job->abi) {
    case TC_ABI_AUTO:
        *abi = info->tincan_note ? SBX_ABI_TINCAN : SBX_ABI_LINUX;
        break;
    case TC_ABI_TINCAN:
        *abi = SBX_ABI_TINCAN;
        break;
    case TC_ABI_LINUX:
        *abi = SBX_ABI_LINUX;
        break;
    default:
        return refuse(res, -EINVAL, "unknown abi %d", job->abi);
    }
    if (*abi == SBX_ABI_TINCAN && info->tincan_note &&
        info->note_abi > TINCAN_ABI_VERSION)
        return refuse(res, -EINVAL,
                      "the guest was built for guest ABI %u; this tincan "
                      "implements ABI %u: update tincan",
                      info->note_abi, TINCAN_ABI_VERSION);
    return 0;
}

/* A Linux guest's arguments: C strings, an environment of KEY=VALUE. */
static int check_linux_args(const struct tc_job *job, struct tc_result *res)
{
    const char *name = job->name ? job->name : TC_DEFAULT_NAME;

    if (!name[0] || strchr(name, '/'))
        return refuse(res, -EINVAL,
                      "the program's name '%.80s' must be a file name "
                      "without '/'",
                      name);
    if (job->nargs && !job->args)
        return refuse(res, -EINVAL, "%s", "args is NULL but nargs is not");
    if (job->nenv && !job->env)
        return refuse(res, -EINVAL, "%s", "env is NULL but nenv is not");
    for (size_t i = 0; i < job->nargs; i++)
        if (!job->args[i])
            return refuse(res, -EINVAL, "argument %zu is NULL", i + 1);
    for (size_t i = 0; i < job->nenv; i++) {
        const char *e = job->env[i], *eq = e ? strchr(e, '=') : NULL;
        if (!eq || eq == e)
            return refuse(res, -EINVAL,
                          "environment entry '%.80s' is not KEY=VALUE",
                          e ? e : "(null)");
    }
    return 0;
}

/* Validate the job and plan its memory: the image and the input. */
static int check_job(const struct tc_job *job, struct sbx_job *sj,
                     struct image_elf_info *info, struct tc_result *res)
{
    char err[SBX_MESSAGE_MAX];
    int elf, rc;

    if (!job->code && job->code_len)
        return refuse(res, -EINVAL, "%s", "code is NULL but code_len is not");
    if (!job->input && job->input_len)
        return refuse(res, -EINVAL, "%s", "input is NULL but input_len is not");
    if (job->timeout_ms == 0 || job->timeout_ms > TC_MAX_TIMEOUT_MS)
        return refuse(res, -EINVAL, "%s",
                      "the timeout must be between 1 ms and 24 h");
    if (job->max_output > TC_MAX_MAX_OUTPUT)
        return refuse(res, -EINVAL, "%s",
                      "the output limit must be at most 1 GiB");
    if (job->max_cmps > TC_MAX_CMPS)
        return refuse(res, -EINVAL, "max_cmps %u is over the most, %d",
                      job->max_cmps, TC_MAX_CMPS);
    if (job->max_stderr > TC_MAX_MAX_OUTPUT)
        return refuse(res, -EINVAL, "%s",
                      "the stderr limit must be at most 1 GiB");
    switch (job->format) {
    case TC_FORMAT_AUTO:
        elf = image_is_elf(job->code, job->code_len);
        break;
    case TC_FORMAT_RAW:
        elf = 0;
        break;
    case TC_FORMAT_ELF:
        elf = 1;
        break;
    default:
        return refuse(res, -EINVAL, "unknown code format %d", job->format);
    }
    memset(sj, 0, sizeof(*sj));
    sj->mem_size = job->mem_size;
    sj->timeout_ms = job->timeout_ms;
    sj->max_insns = job->max_insns;
    sj->feedback = (job->coverage ? SBX_FEEDBACK_EDGES : 0) |
                   (job->max_cmps ? SBX_FEEDBACK_CMPS : 0);
    sj->cmp_cap = job->max_cmps;
    sj->abi = SBX_ABI_TINCAN;
    if (elf) {
        rc = elf_abi(job, info, &sj->abi, res);
        if (rc)
            return rc;
    } else if (job->abi == TC_ABI_LINUX) {
        return refuse(res, -EINVAL, "%s",
                      "a flat binary cannot run as a Linux program (abi "
                      "linux): give a static ELF executable");
    }
    res->abi = sj->abi == SBX_ABI_LINUX ? "linux" : "tincan";
    if (sj->abi == SBX_ABI_LINUX) {
        rc = check_linux_args(job, res);
        if (rc)
            return rc;
        if (image_elf_linux(sj, job->code, job->code_len, info, err,
                            sizeof(err)))
            return refuse(res, -EINVAL, "%s", err);
        /* stdin is read through read(2), from outside guest memory. */
        sj->input = job->input;
        sj->input_len = job->input_len;
        return 0;
    }
    if ((elf ? image_elf : image_raw)(sj, job->code, job->code_len, err,
                                      sizeof(err)) ||
        image_place_input(sj, job->input, job->input_len, err, sizeof(err)))
        return refuse(res, -EINVAL, "%s", err);
    return 0;
}

/* A Linux guest's process: heap, stack, argv, envp, auxv (lxstart.c). */
static int plan_linux(const struct tc_job *job, struct sbx_job *sj,
                      const struct image_elf_info *info, uint8_t **stack,
                      struct tc_result *res)
{
    char err[SBX_MESSAGE_MAX];
    struct lxstart_args a = {
        .name = job->name ? job->name : TC_DEFAULT_NAME,
        .args = job->args,
        .nargs = job->nargs,
        .env = job->env,
        .nenv = job->nenv,
        .seed = job->seed,
        .strict = job->strict_syscalls,
    };
    int rc = lxstart_plan(sj, info, &a, stack, err, sizeof(err));

    return rc ? refuse(res, rc, "%s", err) : 0;
}

/*
 * A child-written text as one safe line: up to its NUL, every control or
 * non-ASCII byte as \xNN (and a backslash as \\), cut at a whole escape.
 */
static void escape_line(char *dst, size_t cap, const char *src, size_t srclen)
{
    static const char hex[] = "0123456789abcdef";
    size_t at = 0;

    for (size_t i = 0; i < srclen && src[i]; i++) {
        unsigned char c = (unsigned char)src[i];
        char e[4];
        size_t n = 0;

        if (c == '\\') {
            e[n++] = '\\';
            e[n++] = '\\';
        } else if (c < ' ' || c >= 0x7f) {
            e[n++] = '\\';
            e[n++] = 'x';
            e[n++] = hex[c >> 4];
            e[n++] = hex[c & 15];
        } else {
            e[n++] = (char)c;
        }
        if (at + n >= cap)
            break;
        memcpy(dst + at, e, n);
        at += n;
    }
    dst[at] = '\0';
}

/* The result from the outcome's checked header (runner/job.c). */
static void fill(struct tc_result *res, const struct job_outcome *o)
{
    const struct sbx_report *r = &o->head;

    res->status = (enum tc_status)r->status;
    res->exit_code = r->exit_code;
    res->exits = r->exits;
    res->wall_us = o->wall_us;
    res->peak_rss_kib = o->peak_rss_kib;
    escape_line(res->message, sizeof(res->message), r->message,
                sizeof(r->message));
    res->fault.vector = r->fault.vector;
    escape_line(res->fault.name, sizeof(res->fault.name), r->fault.name,
                sizeof(r->fault.name));
    res->fault.has_error_code = (int)r->fault.has_error_code;
    res->fault.error_code = r->fault.error_code;
    res->fault.rip = r->fault.rip;
    res->fault.cr2 = r->fault.cr2;
    res->io.port = r->io.port;
    res->io.out = r->io.out;
    res->io.size = r->io.size;
    res->mmio.address = r->mmio.address;
    res->mmio.write = r->mmio.write;
    res->mmio.size = r->mmio.size;
    res->violation_syscall = r->violation_syscall;
    /* Checked in runner/job.c: signal 0..64, unsupported_nr -1 or a
     * syscall number. */
    res->syscalls = r->syscalls;
    res->unsupported_syscalls = r->unsupported;
    res->unsupported_syscall = r->unsupported ? r->unsupported_nr : -1;
    res->signal = res->status == TC_SIGNAL ? r->signal : 0;
    if (res->status == TC_UNSUPPORTED_SYSCALL) {
        /* The child said where ("at rip 0x..."); the name is ours. */
        char name[48], where[64];
        snprintf(where, sizeof(where), "%.40s", res->message);
        snprintf(res->message, sizeof(res->message),
                 "system call %d (%s) %s is not one tincan answers "
                 "(--strict-syscalls)",
                 res->unsupported_syscall,
                 sbx_syscall_name(res->unsupported_syscall, name, sizeof(name)),
                 where);
    }
}

/* A copy of n bytes of one stream of the report (n checked already in
 * runner/job.c). 0 or -ENOMEM. */
static int copy_stream(const unsigned char *from, uint64_t n,
                       unsigned char **to, size_t *to_len)
{
    *to = NULL;
    *to_len = 0;
    if (!n)
        return 0;
    *to = malloc(n);
    if (!*to)
        return -ENOMEM;
    memcpy(*to, from, n);
    *to_len = n;
    return 0;
}

/*
 * Copy the child's feedback out of the report: the edge map whole, and
 * at most as many compare records as this job asked for, whatever count
 * the child wrote; a record whose size is not an operand size is dropped.
 */
static int copy_feedback(const struct tc_job *job, const struct job_outcome *o,
                         struct tc_result *res)
{
    if (job->coverage) {
        res->coverage = malloc(TC_COVERAGE_MAP_SIZE);
        if (!res->coverage)
            return -ENOMEM;
        job_feedback_edges(o, res->coverage);
    }
    if (job->max_cmps) {
        uint32_t n = job_feedback_cmp_count(o, job->max_cmps);

        if (n == 0)
            return 0;
        res->cmps = malloc(n * sizeof(*res->cmps));
        if (!res->cmps)
            return -ENOMEM;
        for (uint32_t i = 0; i < n; i++) {
            struct sbx_cmp c;

            if (job_feedback_cmp(o, i, &c) == 0)
                res->cmps[res->cmps_len++] = (struct tc_cmp){
                    .rip = c.rip, .a = c.a, .b = c.b, .size = c.size};
        }
    }
    return 0;
}

/* KVM or the emulator, as the job asks and the host allows. */
static int pick_backend(const struct tc_job *job, struct sbx_job *sj,
                        struct tc_result *res)
{
    int emu_only = job->max_insns || job->coverage || job->max_cmps;

    switch (job->backend) {
    case TC_BACKEND_AUTO:
        sj->backend = kvm_fd >= 0 && kvm_kind_for_auto(kvm_kind) && !emu_only
                          ? SBX_BACKEND_KVM
                          : SBX_BACKEND_EMU;
        break;
    case TC_BACKEND_KVM:
        if (job->max_insns)
            return refuse(res, -EINVAL, "%s",
                          "an instruction limit (max_insns) needs the "
                          "emulator backend; KVM cannot count instructions");
        if (job->coverage || job->max_cmps)
            return refuse(res, -EINVAL, "%s",
                          "coverage and compare logs (coverage, max_cmps) "
                          "need the emulator backend; KVM cannot see the "
                          "guest's blocks");
        if (kvm_fd < 0)
            return refuse(res, -ENODEV,
                          "KVM is not usable (%s); the emulator backend "
                          "runs without it" LANE_HINT,
                          kvm_error);
        if (!kvm_kind_runs_abi(kvm_kind))
            return refuse(res, -ENODEV,
                          "KVM here is %s; use --backend emu (or auto), or "
                          "for hardware KVM the KVM lane: tests/vm/run "
                          "build/tincan run ...",
                          kvm_kind_why(kvm_kind));
        sj->backend = SBX_BACKEND_KVM;
        break;
    case TC_BACKEND_EMU:
        sj->backend = SBX_BACKEND_EMU;
        break;
    default:
        return refuse(res, -EINVAL, "unknown backend %d", job->backend);
    }
    res->backend = sj->backend == SBX_BACKEND_KVM ? "kvm" : "emu";
    return 0;
}

int tc_kvm_usable(void)
{
    pthread_once(&host_once, host_init);
    return kvm_fd >= 0 && kvm_kind_for_auto(kvm_kind);
}

const char *tc_kvm_kind(void)
{
    pthread_once(&host_once, host_init);
    return kvm_kind_name(kvm_kind);
}

int tc_isolation_info(enum tc_backend backend, char *buf, size_t len)
{
    enum sbx_backend b = SBX_BACKEND_EMU;

    pthread_once(&host_once, host_init);
    if (backend == TC_BACKEND_KVM ||
        (backend == TC_BACKEND_AUTO && tc_kvm_usable()))
        b = SBX_BACKEND_KVM;
    return zygote_isolation(b, buf, len);
}

int tc_run(const struct tc_job *job, struct tc_result *res)
{
    struct job_outcome o;
    char err[SBX_MESSAGE_MAX];
    struct image_elf_info info;
    struct sbx_job sj;
    uint8_t *stack = NULL;
    int rc;

    memset(res, 0, sizeof(*res));
    res->backend = "kvm";
    res->abi = "tincan";
    res->violation_syscall = -1;
    res->unsupported_syscall = -1;
    rc = check_job(job, &sj, &info, res);
    if (rc)
        return rc;
    pthread_once(&host_once, host_init);
    rc = pick_backend(job, &sj, res);
    if (rc)
        return rc;
    if (sj.abi == SBX_ABI_LINUX) {
        rc = plan_linux(job, &sj, &info, &stack, res);
        if (rc)
            return rc;
    }

    const struct job_limits lim = {.timeout_ms = job->timeout_ms,
                                   .max_output = job->max_output,
                                   .max_stderr = job->max_stderr,
                                   .cancel_fd =
                                       job->cancel_fd > 0 ? job->cancel_fd : 0};
    rc = job_run_sandbox(&cgroups, &sj, &lim, &o, err, sizeof(err));
    free(stack);
    if (rc == 0 && o.canceled) {
        job_outcome_release(&o);
        return refuse(res, -ECANCELED, "%s",
                      "canceled: the job's child was killed");
    }
    if (rc) {
        /* No child could be started: a host-side failure of this job. A
         * backend that cannot start at all (no libunicorn) refuses it. */
        if (rc == -ENOENT || rc == -ENODEV)
            return refuse(res, -ENODEV, "%s", err);
        res->status = TC_INTERNAL_ERROR;
        escape_line(res->message, sizeof(res->message), err, sizeof(err));
        return 0;
    }
    fill(res, &o);
    /* The header's out_len and err_len are checked against the job's
     * limits already. */
    if (copy_stream(o.out, o.head.out_len, &res->output, &res->output_len) ||
        copy_stream(o.err, o.head.err_len, &res->err, &res->err_len)) {
        res->status = TC_INTERNAL_ERROR;
        snprintf(res->message, sizeof(res->message),
                 "allocating memory for the output: %s", strerror(ENOMEM));
    }
    /* An invalid report keeps nothing, its feedback neither. */
    if (sj.feedback && !o.invalid && copy_feedback(job, &o, res) != 0) {
        res->status = TC_INTERNAL_ERROR;
        snprintf(res->message, sizeof(res->message),
                 "allocating the coverage map and compare log: %s",
                 strerror(ENOMEM));
    }
    job_outcome_release(&o);
    return 0;
}

void tc_result_free(struct tc_result *res)
{
    free(res->output);
    res->output = NULL;
    res->output_len = 0;
    free(res->coverage);
    res->coverage = NULL;
    free(res->cmps);
    res->cmps = NULL;
    res->cmps_len = 0;
    free(res->err);
    res->err = NULL;
    res->err_len = 0;
}
