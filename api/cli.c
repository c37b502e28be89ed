/*
 * cli.c - the tincan command line: `tincan run` over the C API (and the
 * dispatch to `tincan check`, check.c, and `tincan batch`, batch.c), with
 * plain output (guest bytes to stdout, a status line to stderr) or one JSON
 * object, and exit codes mapped from the status. Code and input come from
 * files, stdin, hex, base64 or URLs through tc_load().
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/payload.h"
#include "../runner/pcache.h"
#include "../runner/units.h"
#include "check.h"
#include "fetchopt.h"
#include "fuzz.h"
#include "jobspec.h"
#include "batch.h"
#include "report.h"
#include "queue_cmd.h"
#include "serve.h"
#include "worker.h"
#include "tincan.h"

static const char usage_text[] =
    "usage: tincan run [options] FILE|-|URL\n"
    "       tincan run [options] --hex 'e6 10 f4' | --b64 '5hD0'\n"
    "       tincan check [-j N] [--junit FILE] [--tap] [--update] DIR\n"
    "       tincan batch [-j N] [-o RESULTS.jsonl] [--ordered] [--resume]\n"
    "                    [--progress] [--allow-paths DIR] "
    "[--allow-urls[=HOSTS]]\n"
    "                    JOBS.jsonl|-   (see tincan batch --help)\n"
    "       tincan fuzz [--corpus DIR] [--crashes DIR] [--execs N] [-j N]\n"
    "                   [--to-check DIR] GUEST   (see tincan fuzz --help)\n"
    "       tincan serve [--listen HOST:PORT|unix:PATH] [--tokens FILE] [-j "
    "N]\n"
    "                    ...                         (see tincan serve "
    "--help)\n"
    "       tincan worker --redis URL [-j N] [--name NAME] ...\n"
    "                    (see tincan worker --help)\n"
    "       tincan queue --redis URL status | dead | requeue ID\n"
    "                    (see tincan queue --help)\n"
    "       tincan --version | --help\n"
    "\n"
    "Runs x86-64 machine code (a flat binary loaded at 0x10000, or a static\n"
    "ELF64 executable) in 64-bit mode in a fresh KVM VM (or the Unicorn\n"
    "emulator where KVM is not usable) inside a locked-down child process.\n"
    "Bytes the guest writes to port 0x10 (or with the bulk-write port 0x12)\n"
    "go to stdout; see guests/ABI.md for the guest ABI. 'tincan check DIR'\n"
    "runs a regression suite of such programs: see 'tincan check --help'.\n"
    "\n"
    "options:\n"
    "  --timeout DUR      wall-clock deadline, e.g. 250ms or 2s (default 1s)\n"
    "  --mem SIZE         guest memory, 1M..1G, e.g. 64M (default 16M)\n"
    "  --max-output SIZE  output kept before output_limit (default 1M)\n"
    "  --input FILE|-|URL bytes passed to the guest (rdi = address, rsi = "
    "length)\n"
    "  --hex TEXT         the code as hex text instead of FILE\n"
    "  --b64 TEXT         the code as base64 text instead of FILE\n"
    "  --sha256 HEX       refuse to run unless the code has this SHA-256\n"
    "  --format FMT       raw (flat code at 0x10000), elf (static ELF64) or\n"
    "                     auto (default: ELF when FILE starts with its magic)\n"
    "  --backend B        kvm, emu (the Unicorn emulator, no KVM needed) or\n"
    "                     auto (default: kvm when /dev/kvm works, else emu)\n"
    "  --max-insns N      emu only: end with insn_limit after N guest\n"
    "                     instructions (deterministic, unlike --timeout)\n"
    "  --max-stderr SIZE  stderr kept before output_limit (default 64K)\n"
    "  --abi ABI          tincan (an SDK guest), linux (a static Linux\n"
    "                     executable) or auto (default: tincan for a flat\n"
    "                     binary or an ELF with tincan's note, else linux)\n"
    "Linux programs (see the README, \"Running ordinary programs\"):\n"
    "  --arg ARG          append ARG to argv (repeatable); argv[0] is FILE's\n"
    "                     name\n"
    "  --env KEY=VALUE    add to the environment (repeatable); nothing comes\n"
    "                     from tincan's own environment\n"
    "  --seed N           AT_RANDOM and getrandom's stream (default 0)\n"
    "  --strict-syscalls  end with unsupported_syscall at the first system\n"
    "                     call tincan lacks (default: it returns -ENOSYS)\n"
    "  --json             print one JSON object with the full result\n"
    "  -h, --help         this text\n"
    "\n" FETCHOPT_USAGE "\n"
    "exit status:\n"
    "  ok                 the guest's exit code (low 8 bits); HLT gives 0\n"
    "  insn_limit 116     unsupported_syscall 115   deadlock 114\n"
    "  signal             128 + the signal's number (abort(): 134)\n"
    "  output_limit 117   fault 118   unhandled_io 119   mmio 120\n"
    "  shutdown 121       sandbox_violation 122   internal_error 123\n"
    "  timeout 124        bad usage or input (a failed fetch or a digest\n"
    "                     mismatch too), or --backend kvm without KVM: 125\n"
    "In plain mode a job that did not end ok prints one status line to\n"
    "stderr: 'tincan: STATUS: what happened'.\n";

/* The version, and what this host gives every job: cgroups, and each
 * backend's isolation (the zygotes start for it). */
static int print_version(void)
{
    static const struct {
        enum tc_backend b;
        const char *name;
    } backends[] = {{TC_BACKEND_KVM, "kvm"}, {TC_BACKEND_EMU, "emu"}};
    char buf[2048];

    tc_cgroup_info(buf, sizeof(buf));
    printf("tincan %s (guest ABI %u)\n%s\n", TINCAN_VERSION, tc_abi_version(),
           buf);
    printf("kvm: %s; auto runs jobs on %s\n", tc_kvm_kind(),
           tc_kvm_usable() ? "KVM" : "the emulator");
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        if (backends[i].b == TC_BACKEND_KVM && !report_kvm_runs())
            continue;
        int rc = tc_isolation_info(backends[i].b, buf, sizeof(buf));
        for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
            printf("%s jobs: %s%s\n", backends[i].name,
                   rc ? "cannot start: " : "", line);
    }
    return 0;
}

static int print_json(const struct tc_result *r)
{
    json_t *o = report_json(r);
    int rc;

    if (!o) {
        fputs("tincan: out of memory while printing JSON\n", stderr);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (rc != 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0) {
        fputs("tincan: cannot write the result to stdout\n", stderr);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    return report_exit_code(r);
}

static int print_plain(const struct tc_result *r)
{
    /* stderr first: a status line then follows the guest's own. */
    if (r->err_len && (fwrite(r->err, 1, r->err_len, stderr) != r->err_len ||
                       fflush(stderr) != 0)) {
        fputs("tincan: cannot write the guest's stderr\n", stderr);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    if (r->output_len &&
        fwrite(r->output, 1, r->output_len, stdout) != r->output_len) {
        fputs("tincan: cannot write the output to stdout\n", stderr);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    if (fflush(stdout) != 0) {
        fputs("tincan: cannot write the output to stdout\n", stderr);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    if (r->status != TC_OK)
        fprintf(stderr, "tincan: %s: %s\n", tc_status_name(r->status),
                r->message);
    return report_exit_code(r);
}

enum {
    OPT_TIMEOUT = 256,
    OPT_MEM,
    OPT_MAX_OUTPUT,
    OPT_INPUT,
    OPT_HEX,
    OPT_JSON,
    OPT_FORMAT,
    OPT_B64,
    OPT_SHA256,
    OPT_BACKEND,
    OPT_MAX_INSNS,
    OPT_MAX_STDERR,
    OPT_ABI,
    OPT_ARG,
    OPT_ENV,
    OPT_SEED,
    OPT_STRICT
};

/* Append s to a growing array of strings (argv or env). */
static int push_arg(const char ***list, size_t *n, const char *s)
{
    const char **l = realloc((void *)*list, (*n + 1) * sizeof(*l));

    if (!l)
        return -ENOMEM;
    l[(*n)++] = s;
    *list = l;
    return 0;
}

/* FILE, "-" or a URL, as the source it names. */
static struct tc_source source_of(const char *arg)
{
    struct tc_source src = {
        .kind = payload_is_url(arg) ? TC_SOURCE_URL : TC_SOURCE_PATH,
        .text = arg,
    };
    return src;
}

/* A decimal number, 0 or more. */
static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -EINVAL;
    *out = v;
    return 0;
}

/* A positive decimal count. */
static int parse_count(const char *s, uint64_t *out)
{
    int rc = parse_u64(s, out);

    return rc ? rc : *out == 0 ? -EINVAL : 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"mem", required_argument, NULL, OPT_MEM},
        {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
        {"input", required_argument, NULL, OPT_INPUT},
        {"hex", required_argument, NULL, OPT_HEX},
        {"json", no_argument, NULL, OPT_JSON},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"b64", required_argument, NULL, OPT_B64},
        {"sha256", required_argument, NULL, OPT_SHA256},
        FETCHOPT_LONG_OPTIONS,
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"max-insns", required_argument, NULL, OPT_MAX_INSNS},
        {"max-stderr", required_argument, NULL, OPT_MAX_STDERR},
        {"abi", required_argument, NULL, OPT_ABI},
        {"arg", required_argument, NULL, OPT_ARG},
        {"env", required_argument, NULL, OPT_ENV},
        {"seed", required_argument, NULL, OPT_SEED},
        {"strict-syscalls", no_argument, NULL, OPT_STRICT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *input_arg = NULL, *hex = NULL, *b64 = NULL, *sha256 = NULL;
    char err[512];
    uint8_t digest[PCACHE_DIGEST_LEN];
    int json = 0, c, rc = REPORT_EXIT_USAGE;
    void *code = NULL, *input = NULL;
    size_t code_len = 0, input_len = 0;
    struct tc_source code_src, input_src;
    struct fetchopt fo;
    const struct tc_fetch_options *fetch = &fo.fetch;
    struct tc_job job;
    struct tc_result res;
    const char **args = NULL, **env = NULL;
    size_t nargs = 0, nenv = 0;
    char name[256]; /* argv[0] */

    tc_job_init(&job);
    fetchopt_init(&fo);
    memset(&res, 0, sizeof(res));
    opterr = 0;
    optind = 1;
    /* Options may also follow FILE or URL: "tincan run URL --sha256 HEX". */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        int taken = fetchopt_apply(&fo, c, optarg, err, sizeof(err));

        if (taken < 0)
            return report_usage_error("%s", err);
        if (taken)
            continue;
        switch (c) {
        case OPT_TIMEOUT:
            if (units_parse_duration(optarg, &job.timeout_ms, err, sizeof(err)))
                return report_usage_error("--timeout: %s", err);
            if (job.timeout_ms == 0 || job.timeout_ms > TC_MAX_TIMEOUT_MS)
                return report_usage_error(
                    "--timeout %s is out of range (1ms to "
                    "24h)",
                    optarg);
            break;
        case OPT_MEM:
            if (units_parse_size(optarg, &job.mem_size, err, sizeof(err)))
                return report_usage_error("--mem: %s", err);
            if (job.mem_size < TC_MIN_MEM || job.mem_size > TC_MAX_MEM)
                return report_usage_error("--mem %s is out of range (1M to 1G)",
                                          optarg);
            if (job.mem_size % 4096)
                return report_usage_error("--mem %s is not a multiple of 4K",
                                          optarg);
            break;
        case OPT_MAX_OUTPUT:
            if (units_parse_size(optarg, &job.max_output, err, sizeof(err)))
                return report_usage_error("--max-output: %s", err);
            if (job.max_output > TC_MAX_MAX_OUTPUT)
                return report_usage_error("--max-output %s is over 1G", optarg);
            break;
        case OPT_INPUT:
            input_arg = optarg;
            break;
        case OPT_HEX:
            hex = optarg;
            break;
        case OPT_B64:
            b64 = optarg;
            break;
        case OPT_SHA256:
            if (pcache_parse_digest(optarg, digest))
                return report_usage_error("--sha256 '%.80s' is not a SHA-256 "
                                          "digest; give its 64 hex digits "
                                          "(sha256sum prints them)",
                                          optarg);
            sha256 = optarg;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_FORMAT:
            if (jobspec_format_named(optarg, &job.format) != 0)
                return report_usage_error("--format %s: use raw, elf or auto",
                                          optarg);
            break;
        case OPT_BACKEND:
            if (jobspec_backend_named(optarg, &job.backend) != 0)
                return report_usage_error("--backend %s: use kvm, emu or auto",
                                          optarg);
            break;
        case OPT_MAX_STDERR:
            if (units_parse_size(optarg, &job.max_stderr, err, sizeof(err)))
                return report_usage_error("--max-stderr: %s", err);
            if (job.max_stderr > TC_MAX_MAX_OUTPUT)
                return report_usage_error("--max-stderr %s is over 1G", optarg);
            break;
        case OPT_ABI:
            if (jobspec_abi_named(optarg, &job.abi) != 0)
                return report_usage_error("--abi %s: use tincan, linux or auto",
                                          optarg);
            break;
        case OPT_ARG:
            if (push_arg(&args, &nargs, optarg))
                return report_usage_error("--arg: %s", strerror(ENOMEM));
            break;
        case OPT_ENV:
            if (!strchr(optarg, '=') || optarg[0] == '=')
                return report_usage_error("--env '%.80s' is not KEY=VALUE",
                                          optarg);
            if (push_arg(&env, &nenv, optarg))
                return report_usage_error("--env: %s", strerror(ENOMEM));
            break;
        case OPT_SEED:
            if (*optarg < '0' || *optarg > '9' ||
                parse_u64(optarg, &job.seed) != 0)
                return report_usage_error(
                    "--seed %s: give a whole number, 0 or more", optarg);
            break;
        case OPT_STRICT:
            job.strict_syscalls = 1;
            break;
        case OPT_MAX_INSNS:
            if (parse_count(optarg, &job.max_insns) != 0)
                return report_usage_error(
                    "--max-insns %s: give a whole number of "
                    "instructions, at least 1",
                    optarg);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return report_usage_error("option '%s' needs a value; see 'tincan "
                                      "--help'",
                                      argv[optind - 1]);
        default:
            return report_usage_error(
                "unknown option '%s'; see 'tincan --help'", argv[optind - 1]);
        }
    }
    if (hex && b64)
        return report_usage_error("%s",
                                  "give the code once: --hex or --b64, not "
                                  "both");
    if ((hex || b64) && optind < argc)
        return report_usage_error(
            "give the code once: --%s or FILE/URL, not both "
            "('%s')",
            hex ? "hex" : "b64", argv[optind]);
    if (!hex && !b64 && optind >= argc)
        return report_usage_error("%s",
                                  "no code: give FILE, - for stdin, a URL, "
                                  "--hex TEXT or --b64 TEXT; see 'tincan "
                                  "--help'");
    if (optind + 1 < argc)
        return report_usage_error("one FILE at a time ('%s' is extra)",
                                  argv[optind + 1]);
    if (hex || b64) {
        code_src.kind = hex ? TC_SOURCE_HEX : TC_SOURCE_B64;
        code_src.text = hex ? hex : b64;
    } else {
        code_src = source_of(argv[optind]);
    }
    code_src.sha256 = sha256;
    if (input_arg && strcmp(input_arg, "-") == 0 &&
        code_src.kind == TC_SOURCE_PATH && strcmp(code_src.text, "-") == 0)
        return report_usage_error("%s", "code and input cannot both come from "
                                        "stdin");
    c = tc_load(&code_src, fetch, &code, &code_len, err, sizeof(err));
    if (c) {
        /* Decoding errors say "bad hex"/"bad base64"; name the flag too. */
        if (c == -EINVAL && (hex || b64))
            rc = report_usage_error("--%s: %s", hex ? "hex" : "b64", err);
        else
            rc = report_usage_error("%s", err);
        goto out;
    }
    if (code_len == 0) {
        rc = report_usage_error("%s",
                                "the code is empty: give at least one byte");
        goto out;
    }
    if (input_arg) {
        input_src = source_of(input_arg);
        if (tc_load(&input_src, fetch, &input, &input_len, err, sizeof(err))) {
            rc = report_usage_error("--input: %s", err);
            goto out;
        }
    }
    job.code = code;
    job.code_len = code_len;
    job.input = input;
    job.input_len = input_len;
    job.name = jobspec_program_name(&code_src, name, sizeof(name));
    job.args = args;
    job.nargs = nargs;
    job.env = env;
    job.nenv = nenv;
    if (job.max_insns && job.backend == TC_BACKEND_KVM) {
        rc = report_usage_error("%s",
                                "--max-insns needs --backend emu (or auto): "
                                "KVM cannot count instructions");
        goto out;
    }
    if (tc_run(&job, &res) != 0) {
        rc = report_usage_error("%s", res.message);
        goto out;
    }
    /* Once the job ran: a refused job gets its one line alone. */
    if (job.backend == TC_BACKEND_AUTO && !json && !tc_kvm_usable())
        report_auto_on_emulator();
    rc = json ? print_json(&res) : print_plain(&res);
out:
    tc_result_free(&res);
    free(code);
    free(input);
    free((void *)args);
    free((void *)env);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return report_usage_error("%s", "no command; try 'tincan run FILE' or "
                                        "'tincan --help'");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return print_version();
    if (!strcmp(argv[1], "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(argv[1], "check"))
        return check_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "batch"))
        return batch_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fuzz"))
        return fuzz_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "serve"))
        return serve_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "worker"))
        return worker_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "queue"))
        return queue_main(argc - 1, argv + 1);
    return report_usage_error("unknown command '%s'; try 'tincan --help'",
                              argv[1]);
}
