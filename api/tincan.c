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
#include "../runner/job.h"
#include "../runner/image.h"
#include "../runner/payload.h"
#include "../runner/pcache.h"
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

#define LANE_HINT                                                              \
    "; to run here without KVM, use the KVM lane: tests/vm/run build/tincan "  \
    "run ..."

static struct sbx_host host;
static struct cgroup_ctx cgroups;
static int host_rc;
static char host_err[SBX_MESSAGE_MAX];
static pthread_once_t host_once = PTHREAD_ONCE_INIT;

static void host_exit(void)
{
    cgroup_fini(&cgroups); /* an empty directory by now */
}

static void host_init(void)
{
    host_rc = sbx_host_init(&host, host_err, sizeof(host_err));
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

/* Validate the job and plan its memory: the image and the input. */
static int check_job(const struct tc_job *job, struct sbx_job *sj,
                     struct tc_result *res)
{
    char err[SBX_MESSAGE_MAX];
    int elf;

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
    sj->cgroup_fd = -1;
    if ((elf ? image_elf : image_raw)(sj, job->code, job->code_len, err,
                                      sizeof(err)) ||
        image_place_input(sj, job->input, job->input_len, err, sizeof(err)))
        return refuse(res, -EINVAL, "%s", err);
    return 0;
}

static void fill(struct tc_result *res, const struct job_outcome *o)
{
    const struct sbx_report *r = o->rep;

    res->status = (enum tc_status)r->status;
    res->exit_code = r->exit_code;
    res->exits = r->exits;
    res->wall_us = o->wall_us;
    res->peak_rss_kib = o->peak_rss_kib;
    /* The child wrote these: never trust them to be terminated. */
    snprintf(res->message, sizeof(res->message), "%.*s",
             (int)sizeof(r->message), r->message);
    res->fault.vector = r->fault.vector;
    snprintf(res->fault.name, sizeof(res->fault.name), "%.*s",
             (int)sizeof(r->fault.name), r->fault.name);
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
}

/* KVM or the emulator, as the job asks and the host allows. */
static int pick_backend(const struct tc_job *job, struct sbx_job *sj,
                        struct tc_result *res)
{
    switch (job->backend) {
    case TC_BACKEND_AUTO:
        sj->backend = host.kvm_fd >= 0 && !job->max_insns ? SBX_BACKEND_KVM
                                                          : SBX_BACKEND_EMU;
        break;
    case TC_BACKEND_KVM:
        if (job->max_insns)
            return refuse(res, -EINVAL, "%s",
                          "an instruction limit (max_insns) needs the "
                          "emulator backend; KVM cannot count instructions");
        if (host.kvm_fd < 0)
            return refuse(res, -ENODEV,
                          "KVM is not usable (%s); the emulator backend "
                          "runs without it" LANE_HINT,
                          host.kvm_error);
        sj->backend = SBX_BACKEND_KVM;
        break;
    case TC_BACKEND_EMU:
        sj->backend = SBX_BACKEND_EMU;
        break;
    default:
        return refuse(res, -EINVAL, "unknown backend %d", job->backend);
    }
    res->backend = sj->backend == SBX_BACKEND_KVM ? "kvm" : "emu";
    if (sj->backend == SBX_BACKEND_EMU) {
        char err[SBX_MESSAGE_MAX];
        if (sbx_emu_load(err, sizeof(err)) != 0)
            return refuse(res, -ENODEV, "%s", err);
    }
    return 0;
}

int tc_kvm_usable(void)
{
    pthread_once(&host_once, host_init);
    return host_rc == 0 && host.kvm_fd >= 0;
}

int tc_run(const struct tc_job *job, struct tc_result *res)
{
    struct job_outcome o;
    char err[SBX_MESSAGE_MAX];
    struct sbx_job sj;
    int rc;

    memset(res, 0, sizeof(*res));
    res->backend = "kvm";
    res->violation_syscall = -1;
    rc = check_job(job, &sj, res);
    if (rc)
        return rc;
    pthread_once(&host_once, host_init);
    if (host_rc)
        return refuse(res, host_rc, "%s", host_err);
    rc = pick_backend(job, &sj, res);
    if (rc)
        return rc;

    rc = job_run_sandbox(&host, &cgroups, &sj, job->max_output, &o, err,
                         sizeof(err));
    if (rc) {
        /* No child could be started: a host-side failure of this job. */
        res->status = TC_INTERNAL_ERROR;
        snprintf(res->message, sizeof(res->message), "%s", err);
        return 0;
    }
    fill(res, &o);
    uint64_t n = o.rep->out_len <= o.rep->out_cap ? o.rep->out_len : 0;
    if (n) {
        res->output = malloc(n);
        if (!res->output) {
            res->status = TC_INTERNAL_ERROR;
            snprintf(res->message, sizeof(res->message),
                     "allocating %llu bytes for the output: %s",
                     (unsigned long long)n, strerror(ENOMEM));
        } else {
            memcpy(res->output, o.rep->out, n);
            res->output_len = n;
        }
    }
    job_outcome_release(&o);
    return 0;
}

void tc_result_free(struct tc_result *res)
{
    free(res->output);
    res->output = NULL;
    res->output_len = 0;
}
