/*
 * fuzz.c - `tincan fuzz GUEST`: the command over the fuzz engine
 * (runner/fuzz_engine.h). Each execution is a tincan job through tc_run()
 * (a fresh, locked-down child from the emulator's template), with the
 * emulator's edge map and compare log as feedback, or blind on KVM. Writes
 * each crash bucket as CRASHES/BUCKET.in and CRASHES/BUCKET.json when it is
 * found or shrinks, and at the end confirms the buckets on KVM (--confirm),
 * writes them as `tincan check` cases (--to-check), the statistics
 * (--json-stats) and a summary. SIGINT and SIGTERM stop the run; what was
 * found is saved.
 */
#include "fuzz.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "../runner/fuzz_buckets.h"
#include "../runner/fuzz_corpus.h"
#include "../runner/fuzz_engine.h"
#include "../runner/fuzz_mutator.h"
#include "../runner/image.h"
#include "../runner/payload.h"
#include "../runner/units.h"
#include "jobspec.h"
#include "report.h"
#include "tincan.h"

static const char fuzz_usage[] =
    "usage: tincan fuzz [options] GUEST\n"
    "\n"
    "Fuzzes the input of GUEST (a flat binary or a static ELF64, as for\n"
    "tincan run: the input is at rdi, its length in rsi). Every execution is\n"
    "a fresh, locked-down machine. On the emulator (the default) the guest's\n"
    "edges and compares guide the fuzzer: an input that takes a new edge (or\n"
    "an edge a new number of times) joins the corpus, and the operands of its\n"
    "compares are tried in its place (CmpLog). A crash is bucketed by status\n"
    "and place, minimized, and saved as CRASHES/BUCKET.in and .json.\n"
    "\n"
    "options:\n"
    "  --corpus DIR       seed inputs (every file in DIR); receives every\n"
    "                     input that found new coverage\n"
    "  --crashes DIR      where the buckets go (default: crashes)\n"
    "  --duration D       stop after D, e.g. 60s, 10m, 2h\n"
    "  --execs N          stop after N executions (deterministic with -j 1)\n"
    "  --until-crash      stop once the first crash is found and saved\n"
    "  -j, --jobs N       N executions at once (default 1)\n"
    "  --seed N           the random seed (default: a random one, printed)\n"
    "  --max-len SIZE     longest input to make (default 4K, at most 1M)\n"
    "  --dict FILE        an AFL dictionary: name=\"token\" lines, \\xNN "
    "escapes\n"
    "  --crash-on LIST    statuses that are crashes (default fault,shutdown,\n"
    "                     mmio,unhandled_io); timeout, insn_limit and\n"
    "                     output_limit in the list are kept as hangs\n"
    "  --timeout D        each execution's deadline (default 1s)\n"
    "  --mem SIZE         guest memory (default 16M)\n"
    "  --max-output SIZE  output kept per execution (default 64K)\n"
    "  --max-insns N      emu only: end an execution after N instructions\n"
    "                     (insn_limit: a deterministic hang)\n"
    "  --backend B        emu (default: with coverage), kvm (blind, at full\n"
    "                     speed) or auto (kvm when usable, else emu)\n"
    "  --no-coverage      fuzz blind on the emulator too\n"
    "  --confirm          run every bucket again on KVM at the end; only the\n"
    "                     crashes KVM confirms count\n"
    "  --to-check DIR     write every bucket as a `tincan check` case\n"
    "                     (GUEST-BUCKET.bin|.elf, .in, .out, .json)\n"
    "  --json-stats FILE  write the run's statistics as JSON\n"
    "  --progress         a progress line even when stderr is not a "
    "terminal\n"
    "  -h, --help         this text\n"
    "\n"
    "Without --duration or --execs it runs until interrupted. SIGINT or\n"
    "SIGTERM stops it; what it found is saved.\n"
    "\n"
    "exit status: 0 no crash found, 1 crashes found, 123 a file could not\n"
    "be written, 125 bad usage.\n";

#define ERR_MAX           512
#define US_PER_S          1000000.0
#define US_PER_MS         1000ULL
#define MS_PER_MINUTE     60000ULL
#define MS_PER_HOUR       3600000ULL
#define FUZZ_MAX_JOBS     256
#define FUZZ_DEFAULT_LEN  4096
#define FUZZ_MAX_LEN      (1ULL << 20)
#define FUZZ_DEFAULT_OUT  (64ULL << 10)
#define FUZZ_CMPS         256 /* compare records per execution */
#define DICT_MAX_BYTES    (1ULL << 20)
#define PROGRESS_TTY_MS   200
#define PROGRESS_PLAIN_MS 1000
#define PAGE_SIZE         4096u

/*
 * Where the guest finds the input: one place to switch when Linux
 * executables (issue 15) read it on stdin.
 */
enum fuzz_input_via {
    FUZZ_VIA_RDI, /* the ABI's input: address in rdi, length in rsi */
};

/* What the command keeps of a bucket for the summary and the exports. */
struct kept {
    char name[FUZZ_BUCKET_NAME_MAX];
    enum tc_status status;
    char message[TC_MESSAGE_MAX];
    unsigned char *output;
    size_t output_len;
    json_t *result; /* as in NAME.json */
    int confirm;    /* --confirm: 1 confirmed, 0 not, -1 not run */
    json_t *kvm_result;
};

struct cli {
    /* options */
    const char *guest, *corpus, *crashes, *dict_path, *to_check, *stats_path;
    uint64_t duration_ms, max_execs, seed;
    unsigned jobs;
    uint64_t max_len;
    unsigned crash_on;
    struct tc_job job; /* the options of every execution */
    int coverage, confirm, progress, tty, until_crash;
    enum fuzz_input_via via;
    /* state */
    void *code;
    size_t code_len;
    int elf;
    struct fuzz_dict dict;
    struct fuzz_seeds seeds;
    struct fuzz_engine engine;
    struct kept *kept;
    size_t nkept;
    int sfd, signo;
    int failed; /* the engine stopped on an error */
    uint64_t last_progress_ms;
    int progress_shown;
};

/* ---- parsing ----------------------------------------------------------- */

static int parse_u64(const char *s, uint64_t *out, int allow_zero)
{
    char *end;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || (!allow_zero && v == 0))
        return -EINVAL;
    *out = v;
    return 0;
}

/* A duration as tincan run takes it, or whole minutes (m) or hours (h). */
static int parse_duration(const char *s, uint64_t *ms, char *err, size_t errlen)
{
    size_t n = strlen(s);
    uint64_t unit = 0, v;
    char num[32];

    if (n > 1 && s[n - 1] == 'h')
        unit = MS_PER_HOUR;
    else if (n > 1 && s[n - 1] == 'm' && s[n - 2] != 'm')
        unit = MS_PER_MINUTE;
    if (!unit)
        return units_parse_duration(s, ms, err, errlen);
    if (n - 1 >= sizeof(num)) {
        snprintf(err, errlen, "duration '%s' is too long", s);
        return -ERANGE;
    }
    memcpy(num, s, n - 1);
    num[n - 1] = '\0';
    if (parse_u64(num, &v, 1) || v > UINT64_MAX / unit) {
        snprintf(err, errlen,
                 "bad duration '%s': minutes and hours are whole numbers, "
                 "e.g. 10m or 2h",
                 s);
        return -EINVAL;
    }
    *ms = v * unit;
    return 0;
}

enum {
    OPT_CORPUS = 256,
    OPT_CRASHES,
    OPT_DURATION,
    OPT_EXECS,
    OPT_SEED,
    OPT_MAX_LEN,
    OPT_DICT,
    OPT_CRASH_ON,
    OPT_TIMEOUT,
    OPT_MEM,
    OPT_MAX_OUTPUT,
    OPT_MAX_INSNS,
    OPT_BACKEND,
    OPT_NO_COVERAGE,
    OPT_CONFIRM,
    OPT_TO_CHECK,
    OPT_JSON_STATS,
    OPT_PROGRESS,
    OPT_UNTIL_CRASH,
};

/* One option into f: 0, 1 for --help, or the usage error's status. */
static int apply_option(struct cli *f, int c, const char *arg, const char *flag,
                        int *have_seed)
{
    char err[ERR_MAX];
    uint64_t v;

    switch (c) {
    case OPT_CORPUS:
        f->corpus = arg;
        return 0;
    case OPT_CRASHES:
        f->crashes = arg;
        return 0;
    case OPT_DURATION:
        if (parse_duration(arg, &f->duration_ms, err, sizeof(err)))
            return report_usage_error("--duration: %s", err);
        if (f->duration_ms == 0)
            return report_usage_error("--duration %s: give at least 1ms", arg);
        return 0;
    case OPT_EXECS:
        if (parse_u64(arg, &f->max_execs, 0))
            return report_usage_error("--execs %s: give a whole number of "
                                      "executions, at least 1",
                                      arg);
        return 0;
    case 'j':
        if (parse_u64(arg, &v, 0) || v > FUZZ_MAX_JOBS)
            return report_usage_error(
                "-j %s: give a number of executions at once, 1 to %d", arg,
                FUZZ_MAX_JOBS);
        f->jobs = (unsigned)v;
        return 0;
    case OPT_SEED:
        if (parse_u64(arg, &f->seed, 1))
            return report_usage_error(
                "--seed %s: give a whole number from 0 to %" PRIu64, arg,
                UINT64_MAX);
        *have_seed = 1;
        return 0;
    case OPT_MAX_LEN:
        if (units_parse_size(arg, &f->max_len, err, sizeof(err)))
            return report_usage_error("--max-len: %s", err);
        if (f->max_len == 0 || f->max_len > FUZZ_MAX_LEN)
            return report_usage_error("--max-len %s is out of range (1 to "
                                      "1M)",
                                      arg);
        return 0;
    case OPT_DICT:
        f->dict_path = arg;
        return 0;
    case OPT_CRASH_ON:
        if (fuzz_crash_on_parse(arg, &f->crash_on, err, sizeof(err)))
            return report_usage_error("--crash-on: %s", err);
        return 0;
    case OPT_TIMEOUT:
        if (units_parse_duration(arg, &f->job.timeout_ms, err, sizeof(err)))
            return report_usage_error("--timeout: %s", err);
        if (f->job.timeout_ms == 0 || f->job.timeout_ms > TC_MAX_TIMEOUT_MS)
            return report_usage_error("--timeout %s is out of range (1ms to "
                                      "24h)",
                                      arg);
        return 0;
    case OPT_MEM:
        if (units_parse_size(arg, &f->job.mem_size, err, sizeof(err)))
            return report_usage_error("--mem: %s", err);
        if (f->job.mem_size < TC_MIN_MEM || f->job.mem_size > TC_MAX_MEM)
            return report_usage_error("--mem %s is out of range (1M to 1G)",
                                      arg);
        if (f->job.mem_size % PAGE_SIZE)
            return report_usage_error("--mem %s is not a multiple of 4K", arg);
        return 0;
    case OPT_MAX_OUTPUT:
        if (units_parse_size(arg, &f->job.max_output, err, sizeof(err)))
            return report_usage_error("--max-output: %s", err);
        if (f->job.max_output > TC_MAX_MAX_OUTPUT)
            return report_usage_error("--max-output %s is over 1G", arg);
        return 0;
    case OPT_MAX_INSNS:
        if (parse_u64(arg, &f->job.max_insns, 0))
            return report_usage_error("--max-insns %s: give a whole number "
                                      "of instructions, at least 1",
                                      arg);
        return 0;
    case OPT_BACKEND:
        if (jobspec_backend_named(arg, &f->job.backend) != 0)
            return report_usage_error("--backend %s: use emu, kvm or auto",
                                      arg);
        return 0;
    case OPT_NO_COVERAGE:
        f->coverage = 0;
        return 0;
    case OPT_CONFIRM:
        f->confirm = 1;
        return 0;
    case OPT_TO_CHECK:
        f->to_check = arg;
        return 0;
    case OPT_JSON_STATS:
        f->stats_path = arg;
        return 0;
    case OPT_PROGRESS:
        f->progress = 1;
        return 0;
    case OPT_UNTIL_CRASH:
        f->until_crash = 1;
        return 0;
    case 'h':
        fputs(fuzz_usage, stdout);
        return 1;
    case ':':
        return report_usage_error("option '%s' needs a value; see 'tincan "
                                  "fuzz --help'",
                                  flag);
    default:
        return report_usage_error("unknown option '%s'; see 'tincan fuzz "
                                  "--help'",
                                  flag);
    }
}

static int parse_args(struct cli *f, int argc, char **argv)
{
    static const struct option opts[] = {
        {"corpus", required_argument, NULL, OPT_CORPUS},
        {"crashes", required_argument, NULL, OPT_CRASHES},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"execs", required_argument, NULL, OPT_EXECS},
        {"jobs", required_argument, NULL, 'j'},
        {"seed", required_argument, NULL, OPT_SEED},
        {"max-len", required_argument, NULL, OPT_MAX_LEN},
        {"dict", required_argument, NULL, OPT_DICT},
        {"crash-on", required_argument, NULL, OPT_CRASH_ON},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"mem", required_argument, NULL, OPT_MEM},
        {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
        {"max-insns", required_argument, NULL, OPT_MAX_INSNS},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"no-coverage", no_argument, NULL, OPT_NO_COVERAGE},
        {"confirm", no_argument, NULL, OPT_CONFIRM},
        {"to-check", required_argument, NULL, OPT_TO_CHECK},
        {"json-stats", required_argument, NULL, OPT_JSON_STATS},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"until-crash", no_argument, NULL, OPT_UNTIL_CRASH},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, have_seed = 0, have_backend = 0;

    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":hj:", opts, NULL)) != -1) {
        int rc = apply_option(f, c, optarg, argv[optind - 1], &have_seed);

        if (rc)
            return rc < 0 ? 0 : rc;
        have_backend |= c == OPT_BACKEND;
    }
    if (optind >= argc)
        return report_usage_error("%s", "no guest: give the code to fuzz, "
                                        "'tincan fuzz GUEST'");
    if (optind + 1 < argc)
        return report_usage_error("one GUEST at a time ('%s' is extra)",
                                  argv[optind + 1]);
    f->guest = argv[optind];
    if (f->duration_ms && f->max_execs)
        return report_usage_error("%s", "give --duration or --execs, not "
                                        "both");
    if (!have_backend)
        f->job.backend = TC_BACKEND_EMU;
    if (!have_seed &&
        getrandom(&f->seed, sizeof(f->seed), 0) != (ssize_t)sizeof(f->seed))
        f->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    return 0;
}

/* ---- executions ------------------------------------------------------- */

/* The job for input in: the one place that knows where input goes. */
static void put_input(const struct cli *f, struct tc_job *job,
                      const uint8_t *in, size_t len)
{
    switch (f->via) {
    case FUZZ_VIA_RDI:
        job->input = in;
        job->input_len = len;
        return;
    }
}

static void site_of(const struct tc_result *res, struct fuzz_site *s)
{
    memset(s, 0, sizeof(*s));
    s->status = (enum sbx_status)res->status;
    s->vector = res->fault.vector;
    snprintf(s->vector_name, sizeof(s->vector_name), "%s", res->fault.name);
    s->rip = res->fault.rip;
    s->port = res->io.port;
    s->address = res->mmio.address;
    s->syscall = res->violation_syscall;
}

/* What an execution's fuzz_result holds on to. */
struct exec_priv {
    struct tc_result res;
    struct fuzz_cmp *cmps;
};

static void exec_release(void *ctx, struct fuzz_result *r);

/* Run in as a job on backend b (the fuzzing backend, or KVM to confirm). */
static int run_input(const struct cli *f, enum tc_backend b, const uint8_t *in,
                     size_t len, int feedback, struct fuzz_result *r, char *err,
                     size_t errlen)
{
    struct exec_priv *p = calloc(1, sizeof(*p));
    struct tc_job job = f->job;
    int rc;

    if (!p) {
        snprintf(err, errlen, "%s", "running an input: out of memory");
        return -ENOMEM;
    }
    put_input(f, &job, in, len);
    job.backend = b;
    job.coverage = feedback;
    job.max_cmps = feedback ? FUZZ_CMPS : 0;
    rc = tc_run(&job, &p->res);
    if (rc) {
        snprintf(err, errlen, "%s", p->res.message);
        tc_result_free(&p->res);
        free(p);
        return rc;
    }
    memset(r, 0, sizeof(*r));
    site_of(&p->res, &r->site);
    r->coverage = p->res.coverage;
    r->priv = p;
    if (p->res.cmps_len) {
        p->cmps = malloc(p->res.cmps_len * sizeof(*p->cmps));
        if (!p->cmps) {
            exec_release(NULL, r);
            snprintf(err, errlen, "%s", "running an input: out of memory");
            return -ENOMEM;
        }
        for (size_t i = 0; i < p->res.cmps_len; i++)
            p->cmps[i] = (struct fuzz_cmp){.a = p->res.cmps[i].a,
                                           .b = p->res.cmps[i].b,
                                           .size = p->res.cmps[i].size};
        r->cmps = p->cmps;
        r->ncmps = p->res.cmps_len;
    }
    return 0;
}

static int exec_run(void *ctx, const uint8_t *in, size_t len, int feedback,
                    struct fuzz_result *r, char *err, size_t errlen)
{
    const struct cli *f = ctx;

    return run_input(f, f->job.backend, in, len, feedback, r, err, errlen);
}

static void exec_release(void *ctx, struct fuzz_result *r)
{
    struct exec_priv *p = r->priv;

    (void)ctx;
    if (!p)
        return;
    tc_result_free(&p->res);
    free(p->cmps);
    free(p);
    r->priv = NULL;
}

static const struct tc_result *result_of(const struct fuzz_result *r)
{
    return &((const struct exec_priv *)r->priv)->res;
}

/* ---- bucket files ------------------------------------------------------ */

/* The result as `tincan run --json` prints it, without what differs from
 * run to run of the same input (wall time, peak RSS): a bucket's file is
 * the same for the same crash. */
static json_t *stable_result(const struct tc_result *res)
{
    json_t *o = report_json(res);

    if (o) {
        json_object_del(o, "wall_us");
        json_object_del(o, "peak_rss_kib");
    }
    return o;
}

/* Printable ASCII of a message the job's child wrote. */
static void clean_message(char *dst, size_t len, const char *src)
{
    size_t i = 0;

    for (; src[i] && i + 1 < len; i++)
        dst[i] = src[i] >= ' ' && src[i] < 0x7f ? src[i] : '?';
    dst[i] = '\0';
}

static struct kept *kept_find(const struct cli *f, const char *name)
{
    for (size_t i = 0; i < f->nkept; i++)
        if (!strcmp(f->kept[i].name, name))
            return &f->kept[i];
    return NULL;
}

static void kept_free(struct kept *k)
{
    free(k->output);
    json_decref(k->result);
    json_decref(k->kvm_result);
}

/* NAME.json of a bucket: what found it, and its result. */
static int write_bucket_json(struct cli *f, const struct fuzz_bucket *b,
                             const struct kept *k, char *err, size_t errlen)
{
    json_t *o = json_object();
    char *text = NULL, name[FUZZ_BUCKET_NAME_MAX + 8];
    int rc = -ENOMEM;

    if (!o)
        goto out;
    json_object_set_new(o, "bucket", json_string(b->name));
    json_object_set_new(o, "guest", json_string(f->guest));
    json_object_set_new(o, "seed", json_integer((json_int_t)f->seed));
    json_object_set_new(o, "found_at_exec",
                        json_integer((json_int_t)b->found_at));
    json_object_set_new(o, "input_bytes", json_integer((json_int_t)b->len));
    json_object_set_new(o, "found_input_bytes",
                        json_integer((json_int_t)b->found_len));
    json_object_set_new(o, "result", json_incref(k->result));
    if (k->confirm >= 0) {
        json_object_set_new(o, "confirmed_on_kvm", json_boolean(k->confirm));
        json_object_set_new(o, "kvm_result", json_incref(k->kvm_result));
    }
    text =
        json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    if (!text)
        goto out;
    snprintf(name, sizeof(name), "%s.json", b->name);
    rc = fuzz_write_file(f->crashes, name, text, strlen(text), err, errlen);
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s", "writing a bucket: out of memory");
    free(text);
    json_decref(o);
    return rc;
}

static int on_bucket(void *ctx, const struct fuzz_bucket *b,
                     const struct fuzz_result *r, char *err, size_t errlen)
{
    struct cli *f = ctx;
    const struct tc_result *res = result_of(r);
    struct kept *k = kept_find(f, b->name);
    char name[FUZZ_BUCKET_NAME_MAX + 8];
    int rc;

    if (!k) {
        struct kept *nk = realloc(f->kept, (f->nkept + 1) * sizeof(*nk));

        if (!nk) {
            snprintf(err, errlen, "%s", "keeping a bucket: out of memory");
            return -ENOMEM;
        }
        f->kept = nk;
        k = &f->kept[f->nkept++];
        memset(k, 0, sizeof(*k));
        snprintf(k->name, sizeof(k->name), "%s", b->name);
        k->confirm = -1;
    }
    kept_free(k);
    k->output = NULL;
    k->kvm_result = NULL;
    k->status = res->status;
    clean_message(k->message, sizeof(k->message), res->message);
    k->output_len = res->output_len;
    k->output = res->output_len ? malloc(res->output_len) : NULL;
    k->result = stable_result(res);
    if ((res->output_len && !k->output) || !k->result) {
        snprintf(err, errlen, "%s", "keeping a bucket: out of memory");
        return -ENOMEM;
    }
    if (res->output_len)
        memcpy(k->output, res->output, res->output_len);
    snprintf(name, sizeof(name), "%s.in", b->name);
    rc = fuzz_write_file(f->crashes, name, b->data, b->len, err, errlen);
    if (rc == 0)
        rc = write_bucket_json(f, b, k, err, errlen);
    return rc;
}

/* ---- progress and signals --------------------------------------------- */

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static double rate(uint64_t n, uint64_t us)
{
    return us ? (double)n * US_PER_S / (double)us : 0.0;
}

static void print_progress(struct cli *f, const struct fuzz_stats *st)
{
    char line[256];

    snprintf(line, sizeof(line),
             "tincan fuzz: %" PRIu64 " execs, %.0f/s, corpus %zu, edges %zu, "
             "buckets %zu, last find %.1fs ago",
             st->execs, rate(st->execs, st->elapsed_us), st->corpus, st->edges,
             st->buckets,
             (double)(st->elapsed_us - st->last_find_us) / US_PER_S);
    if (f->tty)
        fprintf(stderr, "\r%s\033[K", line);
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
    f->progress_shown = 1;
}

static int on_tick(void *ctx, const struct fuzz_stats *st)
{
    struct cli *f = ctx;
    struct signalfd_siginfo si;
    uint64_t now = now_ms();

    if (f->progress && now - f->last_progress_ms >=
                           (f->tty ? PROGRESS_TTY_MS : PROGRESS_PLAIN_MS)) {
        f->last_progress_ms = now;
        print_progress(f, st);
    }
    if (f->sfd >= 0 && !f->signo &&
        read(f->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        f->signo = (int)si.ssi_signo;
        if (f->tty && f->progress_shown)
            fputs("\n", stderr);
        fprintf(stderr, "tincan: %s: stopping; what was found is saved\n",
                strsignal(f->signo));
    }
    return f->signo != 0;
}

/* ---- the end: confirming, exporting, statistics, summary -------------- */

/* Run every bucket's input on KVM: confirmed when it ends in the same
 * bucket there. */
static int confirm_on_kvm(struct cli *f, char *err, size_t errlen)
{
    struct fuzz_buckets *t = &f->engine.buckets;

    for (size_t i = 0; i < t->n; i++) {
        struct fuzz_bucket *b = &t->b[i];
        struct kept *k = kept_find(f, b->name);
        char name[FUZZ_BUCKET_NAME_MAX];
        struct fuzz_result r;
        int rc;

        if (!k)
            continue;
        rc = run_input(f, TC_BACKEND_KVM, b->data, b->len, 0, &r, err, errlen);
        if (rc)
            return rc;
        fuzz_bucket_name(&r.site, name, sizeof(name));
        k->confirm = !strcmp(name, b->name);
        json_decref(k->kvm_result);
        k->kvm_result = stable_result(result_of(&r));
        exec_release(f, &r);
        if (!k->kvm_result) {
            snprintf(err, errlen, "%s", "confirming: out of memory");
            return -ENOMEM;
        }
        rc = write_bucket_json(f, b, k, err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* A bucket that counts: found, and confirmed when --confirm asked. */
static int counts(const struct cli *f, const struct kept *k)
{
    return !f->confirm || k->confirm == 1;
}

/* The guest's file name without directories or suffix: the cases' prefix. */
static void guest_stem(const char *path, char *out, size_t len)
{
    const char *base = strrchr(path, '/');
    size_t n;

    base = base ? base + 1 : path;
    n = strcspn(base, ".");
    if (n == 0 || payload_is_url(path)) {
        snprintf(out, len, "%s", "guest");
        return;
    }
    snprintf(out, len, "%.*s", (int)n, base);
}

/* --to-check: DIR/GUEST-BUCKET.{bin,elf,in,out,json}, a case of `tincan
 * check` that expects the crash. */
static int export_case(struct cli *f, const struct fuzz_bucket *b,
                       const struct kept *k, char *err, size_t errlen)
{
    char stem[FUZZ_BUCKET_NAME_MAX + 64], guest[64], name[sizeof(stem) + 8];
    struct tc_job def;
    json_t *o = json_object();
    char *text = NULL;
    int rc = -ENOMEM;

    tc_job_init(&def);
    guest_stem(f->guest, guest, sizeof(guest));
    snprintf(stem, sizeof(stem), "%s-%s", guest, b->name);
    if (!o)
        goto out;
    json_object_set_new(o, "status", json_string(tc_status_name(k->status)));
    if (f->job.timeout_ms != def.timeout_ms)
        json_object_set_new(o, "timeout_ms",
                            json_integer((json_int_t)f->job.timeout_ms));
    if (f->job.mem_size != def.mem_size)
        json_object_set_new(o, "mem",
                            json_integer((json_int_t)f->job.mem_size));
    if (f->job.max_output != def.max_output)
        json_object_set_new(o, "max_output",
                            json_integer((json_int_t)f->job.max_output));
    if (f->job.max_insns)
        json_object_set_new(o, "max_insns",
                            json_integer((json_int_t)f->job.max_insns));
    text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text)
        goto out;
    snprintf(name, sizeof(name), "%s%s", stem, f->elf ? ".elf" : ".bin");
    rc = fuzz_write_file(f->to_check, name, f->code, f->code_len, err, errlen);
    snprintf(name, sizeof(name), "%s.in", stem);
    if (rc == 0)
        rc = fuzz_write_file(f->to_check, name, b->data, b->len, err, errlen);
    snprintf(name, sizeof(name), "%s.out", stem);
    if (rc == 0)
        rc = fuzz_write_file(f->to_check, name, k->output, k->output_len, err,
                             errlen);
    snprintf(name, sizeof(name), "%s.json", stem);
    if (rc == 0)
        rc =
            fuzz_write_file(f->to_check, name, text, strlen(text), err, errlen);
out:
    if (rc == -ENOMEM)
        snprintf(err, errlen, "%s", "writing a check case: out of memory");
    free(text);
    json_decref(o);
    return rc;
}

static int export_cases(struct cli *f, size_t *written, char *err,
                        size_t errlen)
{
    struct fuzz_buckets *t = &f->engine.buckets;
    int rc = fuzz_make_dir(f->to_check, err, errlen);

    *written = 0;
    for (size_t i = 0; rc == 0 && i < t->n; i++) {
        const struct kept *k = kept_find(f, t->b[i].name);

        if (!k || !counts(f, k))
            continue;
        rc = export_case(f, &t->b[i], k, err, errlen);
        *written += rc == 0;
    }
    return rc;
}

static const char *stop_name(const struct cli *f)
{
    if (f->failed)
        return "error";
    if (f->signo)
        return "signal";
    switch (f->engine.stop) {
    case FUZZ_STOP_EXECS:
        return "execs";
    case FUZZ_STOP_DURATION:
        return "duration";
    case FUZZ_STOP_ASKED:
        return "signal";
    case FUZZ_STOP_CRASH:
        return "crash";
    }
    return "error";
}

static uint64_t self_peak_rss_kib(void)
{
    struct rusage ru;

    /* ru_maxrss is in KiB on Linux (getrusage(2)). */
    return getrusage(RUSAGE_SELF, &ru) == 0 && ru.ru_maxrss > 0
               ? (uint64_t)ru.ru_maxrss
               : 0;
}

static int write_stats(struct cli *f, char *err, size_t errlen)
{
    const struct fuzz_stats *st = &f->engine.stats;
    const struct fuzz_buckets *t = &f->engine.buckets;
    json_t *o = json_object(), *list = json_array();
    size_t corpus_bytes = 0;
    FILE *out;
    int rc = 0;

    if (!o || !list) {
        json_decref(o);
        json_decref(list);
        snprintf(err, errlen, "%s", "writing the statistics: out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < f->engine.corpus.n; i++)
        corpus_bytes += f->engine.corpus.e[i].len;
    for (size_t i = 0; i < t->n; i++) {
        const struct kept *k = kept_find(f, t->b[i].name);
        json_t *b =
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:I}", "name",
                      t->b[i].name, "status", sbx_status_name(t->b[i].status),
                      "input_bytes", (json_int_t)t->b[i].len,
                      "found_input_bytes", (json_int_t)t->b[i].found_len,
                      "found_at_exec", (json_int_t)t->b[i].found_at,
                      "found_after_s", (double)t->b[i].found_us / US_PER_S,
                      "hits", (json_int_t)t->b[i].hits);

        if (b && k && k->confirm >= 0)
            json_object_set_new(b, "confirmed_on_kvm",
                                json_boolean(k->confirm));
        json_array_append_new(list, b);
    }
    json_object_set_new(o, "guest", json_string(f->guest));
    json_object_set_new(
        o, "backend",
        json_string(f->job.backend == TC_BACKEND_KVM ? "kvm" : "emu"));
    json_object_set_new(o, "coverage", json_boolean(f->coverage));
    json_object_set_new(o, "seed", json_integer((json_int_t)f->seed));
    json_object_set_new(o, "jobs", json_integer(f->jobs));
    json_object_set_new(o, "execs", json_integer((json_int_t)st->execs));
    json_object_set_new(o, "min_execs",
                        json_integer((json_int_t)st->min_execs));
    json_object_set_new(o, "duration_s",
                        json_real((double)st->elapsed_us / US_PER_S));
    json_object_set_new(o, "execs_per_s",
                        json_real(rate(st->execs, st->elapsed_us)));
    json_object_set_new(o, "stopped_by", json_string(stop_name(f)));
    json_object_set_new(o, "corpus", json_integer((json_int_t)st->corpus));
    json_object_set_new(o, "corpus_bytes",
                        json_integer((json_int_t)corpus_bytes));
    json_object_set_new(o, "edges", json_integer((json_int_t)st->edges));
    json_object_set_new(o, "crash_execs",
                        json_integer((json_int_t)st->crash_execs));
    json_object_set_new(o, "hang_execs",
                        json_integer((json_int_t)st->hang_execs));
    json_object_set_new(o, "timeouts", json_integer((json_int_t)st->timeouts));
    json_object_set_new(o, "buckets", list);
    json_object_set_new(o, "dropped_buckets",
                        json_integer((json_int_t)t->dropped));
    json_object_set_new(o, "peak_rss_kib",
                        json_integer((json_int_t)self_peak_rss_kib()));
    out = fopen(f->stats_path, "w");
    if (!out || json_dumpf(o, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', out) == EOF) {
        rc = errno ? -errno : -EIO;
        snprintf(err, errlen, "cannot write %s: %s", f->stats_path,
                 strerror(-rc));
    }
    if (out && fclose(out) != 0 && rc == 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot write %s: %s", f->stats_path,
                 strerror(-rc));
    }
    json_decref(o);
    return rc;
}

static void print_summary(const struct cli *f, size_t exported)
{
    const struct fuzz_stats *st = &f->engine.stats;
    const struct fuzz_buckets *t = &f->engine.buckets;
    size_t crashes = 0, hangs = 0, unconfirmed = 0;

    if (f->tty && f->progress_shown)
        fputs("\r\033[K", stderr);
    printf("tincan fuzz: %" PRIu64 " execs in %.1fs (%.0f/s, %s, seed %" PRIu64
           "), stopped by %s; corpus %zu inputs, %zu edges\n",
           st->execs, (double)st->elapsed_us / US_PER_S,
           rate(st->execs, st->elapsed_us),
           f->job.backend == TC_BACKEND_KVM ? "kvm, blind"
           : f->coverage                    ? "emu, coverage"
                                            : "emu, blind",
           f->seed, stop_name(f), st->corpus, st->edges);
    for (size_t i = 0; i < t->n; i++) {
        const struct kept *k = kept_find(f, t->b[i].name);
        const struct fuzz_bucket *b = &t->b[i];

        if (!k)
            continue;
        if (!counts(f, k))
            unconfirmed++;
        else if (fuzz_status_is_hang(b->status))
            hangs++;
        else
            crashes++;
        printf("  %-8s %s: %zu bytes (found with %zu at exec %" PRIu64
               ", %.1fs; %" PRIu64 " hit%s): %s\n",
               !counts(f, k)                    ? "emu-only"
               : fuzz_status_is_hang(b->status) ? "hang"
                                                : "crash",
               b->name, b->len, b->found_len, b->found_at,
               (double)b->found_us / US_PER_S, b->hits, b->hits == 1 ? "" : "s",
               k->message);
    }
    if (t->dropped)
        printf("  %" PRIu64 " more crashes in places past the first %d "
               "buckets were not kept\n",
               t->dropped, FUZZ_MAX_BUCKETS);
    printf("%zu crash bucket%s, %zu hang bucket%s", crashes,
           crashes == 1 ? "" : "s", hangs, hangs == 1 ? "" : "s");
    if (f->confirm)
        printf(", %zu not confirmed on KVM", unconfirmed);
    if (t->n)
        printf(" in %s", f->crashes);
    if (f->to_check)
        printf("; %zu check case%s in %s", exported, exported == 1 ? "" : "s",
               f->to_check);
    printf("\n");
    fflush(stdout);
}

/* ---- the command ------------------------------------------------------- */

static int load_inputs(struct cli *f)
{
    struct tc_source src = {.kind = payload_is_url(f->guest) ? TC_SOURCE_URL
                                                             : TC_SOURCE_PATH,
                            .text = f->guest};
    char err[ERR_MAX];
    void *text = NULL;
    size_t len = 0;
    int rc;

    if (tc_load(&src, NULL, &f->code, &f->code_len, err, sizeof(err)))
        return report_usage_error("%s", err);
    if (f->code_len == 0)
        return report_usage_error("%s is empty: give at least one byte of "
                                  "code",
                                  f->guest);
    f->elf = image_is_elf(f->code, f->code_len);
    f->job.code = f->code;
    f->job.code_len = f->code_len;
    if (f->dict_path) {
        struct tc_source d = {.kind = TC_SOURCE_PATH, .text = f->dict_path};

        if (tc_load(&d, NULL, &text, &len, err, sizeof(err)))
            return report_usage_error("--dict: %s", err);
        if (len > DICT_MAX_BYTES) {
            free(text);
            return report_usage_error("--dict %s is over 1M: a dictionary "
                                      "is a list of short tokens",
                                      f->dict_path);
        }
        rc = fuzz_dict_parse(&f->dict, text, len, err, sizeof(err));
        free(text);
        if (rc)
            return report_usage_error("--dict %s: %s", f->dict_path, err);
    }
    if (f->corpus &&
        fuzz_seeds_load(f->corpus, f->max_len, &f->seeds, err, sizeof(err)))
        return report_usage_error("--corpus: %s", err);
    return 0;
}

/* The options against each other and this host; a first execution with
 * the longest input, so that a job tincan refuses is bad usage here. */
static int preflight(struct cli *f)
{
    char err[ERR_MAX];
    struct fuzz_result r;
    uint8_t *zeros;
    int rc;

    if (f->job.backend == TC_BACKEND_AUTO)
        f->job.backend = tc_kvm_usable() && !f->job.max_insns ? TC_BACKEND_KVM
                                                              : TC_BACKEND_EMU;
    if (f->job.backend == TC_BACKEND_KVM) {
        f->coverage = 0;
        if (f->job.max_insns)
            return report_usage_error("%s", "--max-insns needs --backend emu: "
                                            "KVM cannot count instructions");
        if (f->confirm)
            return report_usage_error(
                "%s", "--confirm reruns the emulator's crashes on KVM; with "
                      "--backend kvm they ran on KVM already");
    }
    if (f->confirm && !report_kvm_runs())
        return report_usage_error(
            "%s", "--confirm needs KVM, which is not usable here; run in the "
                  "KVM lane: tests/vm/run build/tincan fuzz ...");
    zeros = calloc(1, f->max_len);
    if (!zeros)
        return report_usage_error("%s", "out of memory");
    rc = run_input(f, f->job.backend, zeros, f->max_len, f->coverage, &r, err,
                   sizeof(err));
    free(zeros);
    if (rc)
        return report_usage_error("%s cannot run with a --max-len input of "
                                  "%" PRIu64 " bytes: %s",
                                  f->guest, f->max_len, err);
    exec_release(f, &r);
    return 0;
}

static int make_dirs(const struct cli *f)
{
    char err[ERR_MAX];

    if (fuzz_make_dir(f->crashes, err, sizeof(err)))
        return report_usage_error("--crashes: %s", err);
    if (f->corpus && fuzz_make_dir(f->corpus, err, sizeof(err)))
        return report_usage_error("--corpus: %s", err);
    return 0;
}

/* Signals are read from a signalfd in on_tick; blocked in every thread
 * (and so in every job's child) before the engine starts its threads. */
static int take_signals(struct cli *f)
{
    sigset_t sigs;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &sigs, NULL) != 0)
        return -1;
    f->sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    return f->sfd < 0 ? -1 : 0;
}

static int finish(struct cli *f, int rc, const char *run_err)
{
    char err[ERR_MAX];
    size_t exported = 0, found = 0;
    int status = FUZZ_EXIT_CLEAN;

    if (rc) {
        fprintf(stderr, "tincan: %s\n", run_err);
        f->failed = 1;
        status = FUZZ_EXIT_ERROR;
    }
    if (f->confirm && f->engine.buckets.n &&
        confirm_on_kvm(f, err, sizeof(err))) {
        fprintf(stderr, "tincan: --confirm: %s\n", err);
        status = FUZZ_EXIT_ERROR;
    }
    if (f->to_check && export_cases(f, &exported, err, sizeof(err))) {
        fprintf(stderr, "tincan: --to-check: %s\n", err);
        status = FUZZ_EXIT_ERROR;
    }
    if (f->stats_path && write_stats(f, err, sizeof(err))) {
        fprintf(stderr, "tincan: --json-stats: %s\n", err);
        status = FUZZ_EXIT_ERROR;
    }
    print_summary(f, exported);
    for (size_t i = 0; i < f->nkept; i++)
        found += counts(f, &f->kept[i]);
    if (status == FUZZ_EXIT_CLEAN && found)
        status = FUZZ_EXIT_CRASHES;
    return status;
}

int fuzz_main(int argc, char **argv)
{
    struct cli f;
    struct fuzz_config cfg;
    char err[ERR_MAX] = "";
    int rc;

    memset(&f, 0, sizeof(f));
    f.sfd = -1;
    f.crashes = "crashes";
    f.jobs = 1;
    f.max_len = FUZZ_DEFAULT_LEN;
    f.crash_on = FUZZ_CRASH_ON_DEFAULT;
    f.coverage = 1;
    f.via = FUZZ_VIA_RDI;
    tc_job_init(&f.job);
    f.job.max_output = FUZZ_DEFAULT_OUT;
    fuzz_dict_init(&f.dict);
    rc = parse_args(&f, argc, argv);
    if (rc)
        return rc == 1 ? 0 : rc;
    rc = load_inputs(&f);
    if (rc == 0)
        rc = preflight(&f);
    if (rc == 0)
        rc = make_dirs(&f);
    if (rc)
        goto out;
    if (take_signals(&f) != 0) {
        fprintf(stderr, "tincan: cannot take SIGINT and SIGTERM: %s\n",
                strerror(errno));
        rc = FUZZ_EXIT_ERROR;
        goto out;
    }
    f.tty = isatty(STDERR_FILENO);
    f.progress |= f.tty;
    f.last_progress_ms = now_ms();
    cfg = (struct fuzz_config){
        .exec = {.run = exec_run, .release = exec_release, .ctx = &f},
        .jobs = f.jobs,
        .seed = f.seed,
        .max_execs = f.max_execs,
        .duration_ms = f.duration_ms,
        .max_len = f.max_len,
        .crash_on = f.crash_on,
        .feedback = f.coverage,
        .dict = &f.dict,
        .seeds = &f.seeds,
        .corpus_dir = f.corpus,
        .until_crash = f.until_crash,
        .on_bucket = on_bucket,
        .on_tick = on_tick,
        .ctx = &f,
    };
    rc = fuzz_engine_run(&f.engine, &cfg, err, sizeof(err));
    rc = finish(&f, rc, err);
out:
    fuzz_engine_free(&f.engine);
    for (size_t i = 0; i < f.nkept; i++)
        kept_free(&f.kept[i]);
    free(f.kept);
    fuzz_dict_free(&f.dict);
    fuzz_seeds_free(&f.seeds);
    free(f.code);
    if (f.sfd >= 0)
        close(f.sfd);
    return rc;
}
