/*
 * check.c - `tincan check DIR`: a regression suite of guests. Finds the
 * cases in DIR (NAME.bin or NAME.elf, with NAME.out, NAME.in, NAME.json),
 * runs them on -j threads through tc_run(), compares each result's status,
 * exit code and output with the case's expectations, and reports in name
 * order: plain lines or TAP on stdout, JUnit XML to a file. --update
 * writes the actual results back as the expectations.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../runner/fsafe.h"
#include "../runner/units.h"
#include "check.h"
#include "jobspec.h"
#include "report.h"
#include "tincan.h"

enum {
    CHECK_EXIT_PASSED = 0,
    CHECK_EXIT_FAILED = 1,                /* a case failed or could not run */
    CHECK_EXIT_USAGE = REPORT_EXIT_USAGE, /* bad usage or a bad suite */
};

#define CHECK_MAX_JOBS 256
#define DIFF_BEFORE    16 /* bytes of output shown before the difference */
#define DIFF_AFTER     16 /* and from the difference on */
#define ERR_MAX        512
#define NS_PER_S       1e9
#define CHECK_JSON_MAX (1u << 20) /* bytes of NAME.json read at most */
#define NEW_FILE_MODE  0666       /* less the umask, code's and input's */

static const char check_usage[] =
    "usage: tincan check [options] DIR\n"
    "\n"
    "Runs every case in DIR and compares it with what the case expects.\n"
    "A case is NAME.bin (flat code) or NAME.elf (static ELF64) with:\n"
    "  NAME.out   the expected output, byte for byte (required; --update\n"
    "             writes it)\n"
    "  NAME.in    input for the guest (optional)\n"
    "  NAME.err   the expected stderr, byte for byte (optional; without it\n"
    "             stderr is not compared; --update writes it when there is\n"
    "             any)\n"
    "  NAME.json  options and expectations (optional), e.g.\n"
    "             {\"timeout_ms\": 100, \"status\": \"timeout\"} or "
    "{\"exit_code\": 42};\n"
    "             keys: timeout_ms, mem and max_output (bytes or \"2M\"),\n"
    "             max_insns, backend, format (default: raw for .bin, elf\n"
    "             for .elf), max_stderr, abi, args, env, name, seed,\n"
    "             strict_syscalls (Linux programs), and the expected status\n"
    "             (default ok) and exit_code (default 0, for status ok)\n"
    "\n"
    "options:\n"
    "  -j, --jobs N     run N cases at a time (default 1); the report stays\n"
    "                   in name order\n"
    "  --backend B      kvm, emu or auto (default) for cases whose NAME.json\n"
    "                   names no backend\n"
    "  --tap            print TAP instead of one line per case\n"
    "  --junit FILE     also write the results as JUnit XML to FILE\n"
    "  --update         record the actual results as the expectations:\n"
    "                   rewrite NAME.out, and status/exit_code in NAME.json\n"
    "  -h, --help       this text\n"
    "\n"
    "A failing case shows the status wanted and got, and for output that\n"
    "differs the first differing offset with both sides around it, escaped\n"
    "C-style (\\n, \\t, \\r, \\\\, \\\", \\xNN). A missing NAME.out fails\n"
    "until --update writes it.\n"
    "\n"
    "Case files are read only as regular files in DIR: a symlink, a FIFO,\n"
    "a device, or a file larger than the case can use (NAME.out past\n"
    "max_output, code or input past mem) is an ERROR naming the file.\n"
    "--update writes through a new temporary file renamed into place; an\n"
    "existing file keeps its mode, a new one is no wider than the case's\n"
    "code and input.\n"
    "\n"
    "exit status: 0 every case passed (or was updated), 1 a case failed or\n"
    "could not run, 125 bad usage or a malformed suite (nothing ran).\n";

/* The files of a case, by suffix. */
enum case_file {
    FILE_BIN,
    FILE_ELF,
    FILE_OUT,
    FILE_IN,
    FILE_JSON,
    FILE_ERR,
    FILE_KINDS
};
static const char *const case_suffix[FILE_KINDS] = {
    [FILE_BIN] = ".bin", [FILE_ELF] = ".elf",   [FILE_OUT] = ".out",
    [FILE_IN] = ".in",   [FILE_JSON] = ".json", [FILE_ERR] = ".err",
};
#define HAS(c, kind) (((c)->files >> (kind)) & 1u)

enum verdict { V_PASS, V_UPDATED, V_FAIL, V_ERROR, V_COUNT };

struct check_case {
    char *name;     /* NAME, as in the file names */
    char *label;    /* NAME escaped for printing */
    unsigned files; /* bit (1 << enum case_file) per file present */
    /* Filled in by the thread that ran the case. */
    enum verdict verdict;
    char *summary; /* one line: why it failed, or what was updated */
    char *detail;  /* lines ending in '\n' (status, output diff), or NULL */
    double seconds;
    int done;
};

struct check_opts {
    const char *dir;
    int dirfd;                    /* DIR: every case file is opened in it */
    struct jobspec_policy policy; /* code and input: beneath DIR, strictly */
    unsigned jobs;
    const char *junit;
    int tap, update;
    enum tc_backend backend;
};

/* What a case wants besides its output. */
struct expect {
    enum tc_status status;
    uint64_t exit_code; /* for status ok */
};

struct suite {
    const struct check_opts *opts;
    struct check_case *cases;
    size_t n, next; /* next: the first case no thread has taken */
    pthread_mutex_t lock;
    pthread_cond_t case_done;
};

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) +
           (double)(t.tv_nsec - t0->tv_nsec) / NS_PER_S;
}

/*
 * Bytes as C-style text: printable ASCII as is, \n \t \r \\ \" and \xNN for
 * the rest. Writes to f unless it is NULL; returns the characters written.
 */
static size_t put_escaped(FILE *f, const unsigned char *p, size_t n)
{
    size_t w = 0;

    for (size_t i = 0; i < n; i++) {
        char buf[8];
        unsigned char b = p[i];

        if (b == '\n')
            strcpy(buf, "\\n");
        else if (b == '\t')
            strcpy(buf, "\\t");
        else if (b == '\r')
            strcpy(buf, "\\r");
        else if (b == '\\' || b == '"')
            snprintf(buf, sizeof(buf), "\\%c", b);
        else if (b >= ' ' && b < 0x7f)
            snprintf(buf, sizeof(buf), "%c", b);
        else
            snprintf(buf, sizeof(buf), "\\x%02x", b);
        if (f)
            fputs(buf, f);
        w += strlen(buf);
    }
    return w;
}

/* A malloc'd escaped copy of s, or NULL when out of memory. */
static char *escaped(const char *s)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    put_escaped(f, (const unsigned char *)s, strlen(s));
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ---- finding the cases ------------------------------------------------ */

struct entry {
    char *stem;
    enum case_file kind;
};

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);

    return c ? c : (int)x->kind - (int)y->kind;
}

static void free_cases(struct check_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(cases[i].name);
        free(cases[i].label);
        free(cases[i].summary);
        free(cases[i].detail);
    }
    free(cases);
}

/* The case files in dir, grouped into cases in name order. */
static int find_cases(const char *dir, struct check_case **out, size_t *nout,
                      char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    struct entry *ents = NULL;
    struct check_case *cases = NULL;
    size_t nents = 0, cap = 0, n = 0;
    int rc = 0;

    *out = NULL;
    *nout = 0;
    if (!d) {
        rc = -errno;
        snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return rc;
    }
    /* readdir() returns NULL with errno set on an error, 0 at the end. */
    for (errno = 0; (de = readdir(d)); errno = 0) {
        size_t len = strlen(de->d_name);

        if (de->d_name[0] == '.')
            continue;
        for (int k = 0; k < FILE_KINDS; k++) {
            size_t sl = strlen(case_suffix[k]);

            if (len <= sl || strcmp(de->d_name + len - sl, case_suffix[k]))
                continue;
            if (nents == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct entry *ne = realloc(ents, ncap * sizeof(*ents));

                if (!ne)
                    goto oom;
                ents = ne;
                cap = ncap;
            }
            ents[nents].stem = strndup(de->d_name, len - sl);
            if (!ents[nents].stem)
                goto oom;
            ents[nents++].kind = (enum case_file)k;
            break;
        }
    }
    if (errno) {
        rc = -errno;
        snprintf(err, errlen, "reading %s: %s", dir, strerror(errno));
        goto out;
    }
    qsort(ents, nents, sizeof(*ents), entry_cmp);
    cases = calloc(nents ? nents : 1, sizeof(*cases));
    if (!cases)
        goto oom;
    for (size_t i = 0, j; i < nents; i = j) {
        struct check_case *c = &cases[n++];

        for (j = i; j < nents && !strcmp(ents[j].stem, ents[i].stem); j++)
            c->files |= 1u << ents[j].kind;
        c->name = ents[i].stem;
        ents[i].stem = NULL;
        c->label = escaped(c->name);
        if (!c->label)
            goto oom;
        if (HAS(c, FILE_BIN) && HAS(c, FILE_ELF)) {
            snprintf(err, errlen,
                     "%s/%s has both %s.bin and %s.elf: keep one of them", dir,
                     c->label, c->label, c->label);
            rc = -EINVAL;
            goto out;
        }
        if (!HAS(c, FILE_BIN) && !HAS(c, FILE_ELF)) {
            snprintf(err, errlen,
                     "%s/%s%s has no %s.bin or %s.elf beside it: add the "
                     "code or remove the file",
                     dir, c->label, case_suffix[ents[i].kind], c->label,
                     c->label);
            rc = -EINVAL;
            goto out;
        }
    }
    if (n == 0) {
        snprintf(err, errlen,
                 "no cases in %s: a case is NAME.bin or NAME.elf with "
                 "NAME.out (see 'tincan check --help')",
                 dir);
        rc = -ENOENT;
        goto out;
    }
    goto out;
oom:
    snprintf(err, errlen, "reading %s: out of memory", dir);
    rc = -ENOMEM;
out:
    closedir(d);
    for (size_t i = 0; i < nents; i++)
        free(ents[i].stem);
    free(ents);
    if (rc) {
        free_cases(cases, n);
        return rc;
    }
    *out = cases;
    *nout = n;
    return 0;
}

/* ---- one case --------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
set_verdict(struct check_case *c, enum verdict v, const char *fmt, ...)
{
    va_list ap;

    c->verdict = v;
    free(c->summary);
    c->summary = NULL;
    va_start(ap, fmt);
    if (vasprintf(&c->summary, fmt, ap) < 0)
        c->summary = NULL;
    va_end(ap);
}

static int parse_status(const char *s, enum tc_status *st)
{
    for (int i = 0; i < TC_STATUS_COUNT; i++)
        if (!strcmp(s, tc_status_name((enum tc_status)i))) {
            *st = (enum tc_status)i;
            return 0;
        }
    return -EINVAL;
}

/* The keys of NAME.json: jobspec's options, and what the case expects. */
static const char *const case_keys[] = {
    "timeout_ms", "mem",    "max_output", "max_insns",  "backend",
    "format",     "status", "exit_code",  "max_stderr", "abi",
    "args",       "env",    "name",       "seed",       "strict_syscalls",
};
static const char *const expect_keys[] = {"status", "exit_code", NULL};
#define CASE_KEYS_TEXT                                                         \
    "timeout_ms, mem, max_output, max_insns, backend, format, max_stderr, "    \
    "abi, args, env, name, seed, strict_syscalls, status and exit_code"
#define EXIT_CODE_MAX UINT32_MAX /* the exit port takes up to a dword */

/*
 * The job of case c: code NAME.bin or NAME.elf, input NAME.in, and the
 * options of NAME.json (spec, or NULL) through jobspec; and what it expects.
 * Errors say what is wrong in NAME.json or which file cannot be read.
 */
static int case_job(const struct check_opts *opts, const struct check_case *c,
                    json_t *spec, struct jobspec *js, struct expect *want,
                    char *err, size_t errlen)
{
    char code[PATH_MAX], input[PATH_MAX], why[ERR_MAX / 2];
    json_t *req = spec ? json_copy(spec) : json_object(), *v;
    const char *key, *colon;
    int rc = -EINVAL;

    snprintf(code, sizeof(code), "%s%s", c->name,
             case_suffix[HAS(c, FILE_ELF) ? FILE_ELF : FILE_BIN]);
    snprintf(input, sizeof(input), "%s.in", c->name);
    if (!req) {
        snprintf(err, errlen, "%s.json: out of memory", c->label);
        return -ENOMEM;
    }
    if (!json_is_object(req)) {
        snprintf(err, errlen, "%s.json must be a JSON object", c->label);
        goto out;
    }
    json_object_foreach(req, key, v)
    {
        size_t i = 0;

        while (i < sizeof(case_keys) / sizeof(case_keys[0]) &&
               strcmp(key, case_keys[i]))
            i++;
        if (i == sizeof(case_keys) / sizeof(case_keys[0])) {
            snprintf(err, errlen,
                     "%s.json: unknown key \"%.60s\"; a case's keys are "
                     "%s (its code is NAME.bin or NAME.elf, its input "
                     "NAME.in)",
                     c->label, key, CASE_KEYS_TEXT);
            goto out;
        }
    }
    if (json_object_set_new(req, "path", json_string(code)) ||
        (HAS(c, FILE_IN) &&
         json_object_set_new(req, "input_path", json_string(input)))) {
        snprintf(err, errlen, "%s.json: out of memory", c->label);
        rc = -ENOMEM;
        goto out;
    }
    if (jobspec_parse(req, expect_keys, js, why, sizeof(why))) {
        snprintf(err, errlen, "%s.json: %s", c->label, why);
        goto out;
    }
    if ((v = json_object_get(req, "status")) &&
        (!json_is_string(v) ||
         parse_status(json_string_value(v), &want->status))) {
        size_t n = (size_t)snprintf(
            err, errlen, "%s.json: \"status\" must be one of", c->label);

        for (int i = 0; i < TC_STATUS_COUNT && n < errlen; i++)
            n += (size_t)snprintf(err + n, errlen - n, "%s %s", i ? "," : "",
                                  tc_status_name((enum tc_status)i));
        goto out;
    }
    if ((v = json_object_get(req, "exit_code"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            (uint64_t)json_integer_value(v) > EXIT_CODE_MAX) {
            snprintf(err, errlen,
                     "%s.json: \"exit_code\" must be a whole number from 0 "
                     "to %llu",
                     c->label, (unsigned long long)EXIT_CODE_MAX);
            goto out;
        }
        if (want->status != TC_OK) {
            snprintf(err, errlen,
                     "%s.json: \"exit_code\" only applies to status \"ok\"",
                     c->label);
            goto out;
        }
        want->exit_code = (uint64_t)json_integer_value(v);
    }
    /* The suffix and --backend, unless NAME.json says otherwise. */
    if (!json_object_get(req, "format"))
        js->job.format = HAS(c, FILE_ELF) ? TC_FORMAT_ELF : TC_FORMAT_RAW;
    if (!json_object_get(req, "backend"))
        js->job.backend = opts->backend;
    rc = jobspec_load(js, NULL, &opts->policy, why, sizeof(why));
    if (rc) {
        /* why is '"path": ...': the file is named, not the field. */
        colon = strstr(why, "\": ");
        snprintf(err, errlen, "%s", colon ? colon + 3 : why);
    }
out:
    json_decref(req);
    return rc;
}

/*
 * The permission bits a new NAME.out or NAME.json gets: 0666 less the
 * umask, and no wider than the case's code and input, which the output
 * is made from (so a 0600 NAME.in never turns into a 0644 NAME.out).
 */
static mode_t new_file_mode(const struct check_opts *opts,
                            const struct check_case *c)
{
    char name[NAME_MAX + 1];
    mode_t mode = NEW_FILE_MODE;
    struct stat st;

    for (int k = 0; k < FILE_KINDS; k++) {
        if (k == FILE_OUT || k == FILE_JSON || k == FILE_ERR || !HAS(c, k))
            continue;
        snprintf(name, sizeof(name), "%s%s", c->name, case_suffix[k]);
        if (fstatat(opts->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            mode &= st.st_mode & NEW_FILE_MODE;
    }
    return mode;
}

/* NAME + suffix in DIR replaced with p[0..n) (fsafe_replace: a planted
 * symlink is replaced, not followed; an existing file keeps its mode). */
static int write_case_file(const struct check_opts *opts,
                           const struct check_case *c, enum case_file kind,
                           const void *p, size_t n, char *err, size_t errlen)
{
    char name[NAME_MAX + 1], why[ERR_MAX / 2];
    int rc;

    if ((size_t)snprintf(name, sizeof(name), "%s%s", c->name,
                         case_suffix[kind]) >= sizeof(name)) {
        snprintf(err, errlen, "cannot write %s%s: the name is too long",
                 c->label, case_suffix[kind]);
        return -ENAMETOOLONG;
    }
    rc = fsafe_replace(opts->dirfd, name, p, n, new_file_mode(opts, c), why,
                       sizeof(why));
    if (rc)
        snprintf(err, errlen, "cannot write %s/%s%s: %s", opts->dir, c->label,
                 case_suffix[kind], why);
    return rc;
}

/*
 * NAME + suffix from DIR, at most max bytes: a regular file, not a symlink,
 * opened O_NONBLOCK (fsafe_open_beneath). what says what max is, for the
 * error: "the case's max_output".
 */
static int read_case_file(const struct check_opts *opts,
                          const struct check_case *c, enum case_file kind,
                          size_t max, const char *what, uint8_t **out,
                          size_t *len, char *err, size_t errlen)
{
    char name[NAME_MAX + 1], why[ERR_MAX / 2];
    int fd, rc;

    snprintf(name, sizeof(name), "%s%s", c->name, case_suffix[kind]);
    rc = fsafe_open_beneath(opts->dirfd, name, FSAFE_NO_SYMLINKS, &fd, why,
                            sizeof(why));
    if (rc) {
        snprintf(err, errlen, "cannot open %s/%s%s: %s", opts->dir, c->label,
                 case_suffix[kind], why);
        return rc;
    }
    rc = fsafe_read_max(fd, max, out, len);
    close(fd);
    if (rc == -EFBIG)
        snprintf(err, errlen, "%s/%s%s is larger than %s (%zu bytes)",
                 opts->dir, c->label, case_suffix[kind], what, max);
    else if (rc)
        snprintf(err, errlen, "cannot read %s/%s%s: %s", opts->dir, c->label,
                 case_suffix[kind], strerror(-rc));
    return rc;
}

/* "ok (exit code N)" or the status name. */
static void put_status(FILE *f, enum tc_status st, uint64_t exit_code)
{
    if (st == TC_OK)
        fprintf(f, "ok (exit code %llu)", (unsigned long long)exit_code);
    else
        fputs(tc_status_name(st), f);
}

#define DIFF_INDENT "  "  /* the want/got lines under "output:" */
#define DIFF_MORE   "..." /* where a side of the diff goes on */

/* Whether res ended as the case wants: status, and exit code for ok. */
static int status_matches(const struct tc_result *res,
                          const struct expect *want)
{
    return res->status == want->status &&
           (res->status != TC_OK || res->exit_code == want->exit_code);
}

/* One side of the diff: a window of p around off, escaped. */
static void put_window(FILE *f, const char *label, const unsigned char *p,
                       size_t len, size_t start, size_t off)
{
    size_t end = len - off > DIFF_AFTER ? off + DIFF_AFTER : len;

    fprintf(f, DIFF_INDENT "%s%s\"", label, start ? DIFF_MORE : "");
    put_escaped(f, p + start, end - start);
    fprintf(f, "\"%s\n", end < len ? DIFF_MORE : "");
}

/* The first offset where two byte strings differ (the shorter's length
 * when one is a prefix of the other). */
static size_t first_diff(const unsigned char *a, size_t alen,
                         const unsigned char *b, size_t blen)
{
    size_t off = 0, common = alen < blen ? alen : blen;

    while (off < common && a[off] == b[off])
        off++;
    return off;
}

/*
 * One stream (output or stderr) against its NAME.out or NAME.err: as
 * wanted, or its first difference with both sides around it and a caret
 * under it.
 */
static void put_stream(FILE *f, const char *stream, const unsigned char *exp,
                       size_t exp_len, const unsigned char *got, size_t got_len)
{
    static const char want_label[] = "want: ", got_label[] = "got:  ";
    size_t off, start;

    got = got ? got : (const unsigned char *)"";
    off = first_diff(exp, exp_len, got, got_len);
    start = off > DIFF_BEFORE ? off - DIFF_BEFORE : 0;
    if (exp_len == got_len && off == exp_len) {
        fprintf(f, "%s: %zu bytes, as wanted\n", stream, exp_len);
        return;
    }
    fprintf(f,
            "%s: want %zu bytes, got %zu, first difference at offset "
            "%zu\n",
            stream, exp_len, got_len, off);
    put_window(f, want_label, exp, exp_len, start, off);
    put_window(f, got_label, got, got_len, start, off);
    fprintf(f, "%*s^\n",
            (int)(strlen(DIFF_INDENT) + strlen(want_label) +
                  (start ? strlen(DIFF_MORE) : 0) + strlen("\"") +
                  put_escaped(NULL, exp + start, off - start)),
            "");
}

/* The failure text: the status wanted and got, then each stream that has
 * an expectation. */
static void put_detail(FILE *f, const struct check_case *c,
                       const struct tc_result *res, const struct expect *want,
                       const unsigned char *exp, size_t exp_len,
                       const unsigned char *eexp, size_t eexp_len)
{
    fputs("status: ", f);
    if (status_matches(res, want)) {
        put_status(f, res->status, res->exit_code);
        fputs(", as wanted\n", f);
    } else {
        fputs("want ", f);
        put_status(f, want->status, want->exit_code);
        fputs(", got ", f);
        put_status(f, res->status, res->exit_code);
        if (res->status != TC_OK && res->message[0])
            fprintf(f, ": %s", res->message);
        fputc('\n', f);
    }
    if (HAS(c, FILE_OUT))
        put_stream(f, "output", exp, exp_len, res->output, res->output_len);
    else
        fprintf(f, "output: %zu bytes, no %s.out to compare with\n",
                res->output_len, c->label);
    if (HAS(c, FILE_ERR))
        put_stream(f, "stderr", eexp, eexp_len, res->err, res->err_len);
}

/*
 * --update: write what the case did as what it expects. NAME.json keeps
 * its other keys; it loses status and exit_code for ok with exit code 0,
 * and is removed when nothing else is left in it.
 */
static void update_case(const struct check_opts *opts, struct check_case *c,
                        const struct tc_result *res, json_t *spec,
                        int write_out, int write_json, int write_err)
{
    char path[PATH_MAX], err[ERR_MAX], done[ERR_MAX] = "";
    json_t *o = spec ? json_incref(spec) : json_object();
    char *text = NULL;

    if (!o) {
        set_verdict(c, V_ERROR, "updating: out of memory");
        return;
    }
    if (write_out) {
        if (write_case_file(opts, c, FILE_OUT, res->output, res->output_len,
                            err, sizeof(err))) {
            set_verdict(c, V_ERROR, "%s", err);
            goto out;
        }
        snprintf(done, sizeof(done), "wrote %s.out", c->label);
    }
    if (write_err) {
        if (write_case_file(opts, c, FILE_ERR, res->err, res->err_len, err,
                            sizeof(err))) {
            set_verdict(c, V_ERROR, "%s", err);
            goto out;
        }
        snprintf(done + strlen(done), sizeof(done) - strlen(done),
                 "%swrote %s.err", done[0] ? ", " : "", c->label);
    }
    if (write_json) {
        snprintf(path, sizeof(path), "%s.json", c->name);
        json_object_del(o, "status");
        json_object_del(o, "exit_code");
        if (res->status != TC_OK)
            json_object_set_new(o, "status",
                                json_string(tc_status_name(res->status)));
        else if (res->exit_code != 0)
            json_object_set_new(o, "exit_code",
                                json_integer((json_int_t)res->exit_code));
        if (json_object_size(o) == 0) {
            if (unlinkat(opts->dirfd, path, 0) != 0 && errno != ENOENT) {
                set_verdict(c, V_ERROR, "cannot remove %s/%s.json: %s",
                            opts->dir, c->label, strerror(errno));
                goto out;
            }
            if (HAS(c, FILE_JSON))
                snprintf(done + strlen(done), sizeof(done) - strlen(done),
                         "%sremoved %s.json", done[0] ? ", " : "", c->label);
        } else {
            char *dump = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

            /* json_dumps() ends without a newline; a text file has one. */
            if (!dump || asprintf(&text, "%s\n", dump) < 0) {
                free(dump);
                text = NULL;
                set_verdict(c, V_ERROR, "updating %s: out of memory", path);
                goto out;
            }
            free(dump);
            if (write_case_file(opts, c, FILE_JSON, text, strlen(text), err,
                                sizeof(err))) {
                set_verdict(c, V_ERROR, "%s", err);
                goto out;
            }
            snprintf(done + strlen(done), sizeof(done) - strlen(done),
                     "%swrote %s.json", done[0] ? ", " : "", c->label);
        }
    }
    set_verdict(c, V_UPDATED, "%s", done);
out:
    free(text);
    json_decref(o);
}

/* Compares a result with what the case expects, and updates or reports. */
static void judge(const struct check_opts *opts, struct check_case *c,
                  const struct tc_result *res, const struct expect *want,
                  json_t *spec, const unsigned char *exp, size_t exp_len,
                  const unsigned char *eexp, size_t eexp_len)
{
    size_t off = first_diff(exp, exp_len, res->output ? res->output : exp,
                            res->output_len);
    size_t eoff =
        first_diff(eexp, eexp_len, res->err ? res->err : eexp, res->err_len);
    int status_ok = status_matches(res, want), out_ok, err_ok;
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    out_ok = HAS(c, FILE_OUT) && exp_len == res->output_len && off == exp_len;
    err_ok =
        !HAS(c, FILE_ERR) || (eexp_len == res->err_len && eoff == eexp_len);
    if (status_ok && out_ok && err_ok) {
        c->verdict = V_PASS;
        return;
    }
    if (opts->update) {
        update_case(opts, c, res, spec, !out_ok, !status_ok,
                    !err_ok || (!HAS(c, FILE_ERR) && res->err_len));
        return;
    }
    f = open_memstream(&buf, &len);
    if (!f) {
        set_verdict(c, V_FAIL, "cannot describe the failure: out of memory");
        return;
    }
    if (res->status != want->status)
        fprintf(f, "status %s, want %s", tc_status_name(res->status),
                tc_status_name(want->status));
    else if (!status_ok)
        fprintf(f, "exit code %llu, want %llu",
                (unsigned long long)res->exit_code,
                (unsigned long long)want->exit_code);
    if (!status_ok && !out_ok)
        fputs("; ", f);
    if (!HAS(c, FILE_OUT))
        fprintf(f, "no %s.out: record it with --update", c->label);
    else if (!out_ok)
        fprintf(f, "output differs at offset %zu", off);
    if (!err_ok)
        fprintf(f, "%sstderr differs at offset %zu",
                !status_ok || !out_ok ? "; " : "", eoff);
    if (fclose(f) != 0) {
        free(buf);
        buf = NULL;
    }
    c->verdict = V_FAIL;
    c->summary = buf;
    buf = NULL;
    f = open_memstream(&buf, &len);
    if (!f)
        return;
    put_detail(f, c, res, want, exp, exp_len, eexp, eexp_len);
    if (fclose(f) == 0)
        c->detail = buf;
    else
        free(buf);
}

static void run_case(const struct check_opts *opts, struct check_case *c)
{
    char err[ERR_MAX];
    uint8_t *exp = NULL, *eexp = NULL, *text = NULL;
    size_t exp_len = 0, eexp_len = 0, text_len = 0;
    struct expect want = {.status = TC_OK, .exit_code = 0};
    json_t *spec = NULL;
    json_error_t jerr;
    struct jobspec js;
    struct tc_result res;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&res, 0, sizeof(res));
    jobspec_init(&js);
    if (HAS(c, FILE_JSON)) {
        if (read_case_file(opts, c, FILE_JSON, CHECK_JSON_MAX, "1 MiB", &text,
                           &text_len, err, sizeof(err))) {
            set_verdict(c, V_ERROR, "%s", err);
            goto out;
        }
        spec = json_loadb(text ? (const char *)text : "", text_len,
                          JSON_REJECT_DUPLICATES, &jerr);
        if (!spec) {
            set_verdict(c, V_ERROR, "%s.json: line %d: %s", c->label, jerr.line,
                        jerr.text);
            goto out;
        }
    }
    if (case_job(opts, c, spec, &js, &want, err, sizeof(err))) {
        set_verdict(c, V_ERROR, "%s", err);
        goto out;
    }
    /* An expectation longer than max_output can never match: refused
     * before it is read, however large it is. */
    if (HAS(c, FILE_OUT) &&
        read_case_file(opts, c, FILE_OUT, (size_t)js.job.max_output,
                       "the case's max_output", &exp, &exp_len, err,
                       sizeof(err))) {
        set_verdict(c, V_ERROR, "%s", err);
        goto out;
    }
    /* The same for stderr and max_stderr. */
    if (HAS(c, FILE_ERR) &&
        read_case_file(opts, c, FILE_ERR, (size_t)js.job.max_stderr,
                       "the case's max_stderr", &eexp, &eexp_len, err,
                       sizeof(err))) {
        set_verdict(c, V_ERROR, "%s", err);
        goto out;
    }
    if (tc_run(&js.job, &res) != 0) {
        set_verdict(c, V_ERROR, "%s", res.message);
        goto out;
    }
    judge(opts, c, &res, &want, spec, exp ? exp : (const uint8_t *)"", exp_len,
          eexp ? eexp : (const uint8_t *)"", eexp_len);
out:
    tc_result_free(&res);
    jobspec_free(&js);
    json_decref(spec);
    free(exp);
    free(eexp);
    free(text);
    c->seconds = seconds_since(&t0);
}

/* ---- running and reporting -------------------------------------------- */

static void *worker(void *arg)
{
    struct suite *s = arg;

    for (;;) {
        size_t i;

        pthread_mutex_lock(&s->lock);
        i = s->next < s->n ? s->next++ : s->n;
        pthread_mutex_unlock(&s->lock);
        if (i == s->n)
            return NULL;
        run_case(s->opts, &s->cases[i]);
        pthread_mutex_lock(&s->lock);
        s->cases[i].done = 1;
        pthread_cond_broadcast(&s->case_done);
        pthread_mutex_unlock(&s->lock);
    }
}

/* Each line of text, after prefix. */
static void put_lines(const char *prefix, const char *text)
{
    while (text && *text) {
        const char *nl = strchr(text, '\n');
        int len = nl ? (int)(nl - text) : (int)strlen(text);

        printf("%s%.*s\n", prefix, len, text);
        text += len + (nl ? 1 : 0);
    }
}

static void print_case(const struct check_opts *opts,
                       const struct check_case *c, size_t index)
{
    static const char *const word[V_COUNT] = {
        [V_PASS] = "ok",
        [V_UPDATED] = "updated",
        [V_FAIL] = "FAIL",
        [V_ERROR] = "ERROR",
    };
    int bad = c->verdict == V_FAIL || c->verdict == V_ERROR;

    if (opts->tap) {
        printf("%s %zu - ", bad ? "not ok" : "ok", index + 1);
        for (const char *p = c->label; *p; p++)
            printf(*p == '#' ? "\\#" : "%c", *p);
        putchar('\n');
        if (c->summary)
            printf("# %s%s\n", c->verdict == V_UPDATED ? "updated: " : "",
                   c->summary);
        put_lines("#   ", c->detail);
    } else {
        printf("%-7s %s", word[c->verdict], c->label);
        if (c->summary)
            printf(": %s", c->summary);
        putchar('\n');
        put_lines("    ", c->detail);
    }
    fflush(stdout);
}

/* s with XML's five special characters escaped; other control bytes but
 * tab and newline become '?', which XML 1.0 cannot carry. */
static void xml_put(FILE *f, const char *s, int attr)
{
    for (; s && *s; s++) {
        unsigned char b = (unsigned char)*s;

        if (b == '&')
            fputs("&amp;", f);
        else if (b == '<')
            fputs("&lt;", f);
        else if (b == '>')
            fputs("&gt;", f);
        else if (b == '"')
            fputs("&quot;", f);
        else if (b == '\'')
            fputs("&apos;", f);
        else if (b == '\n' && attr)
            fputs("&#10;", f);
        else if (b < ' ' && b != '\n' && b != '\t')
            fputc('?', f);
        else
            fputc(b, f);
    }
}

/* The suite's name: DIR's last component. */
static char *suite_name(const char *dir)
{
    char *d = strdup(dir), *name, *slash;

    if (!d)
        return NULL;
    for (size_t n = strlen(d); n > 1 && d[n - 1] == '/'; n--)
        d[n - 1] = '\0';
    slash = strrchr(d, '/');
    name = escaped(slash && slash[1] ? slash + 1 : d);
    free(d);
    return name;
}

static int write_junit(FILE *f, const struct check_opts *opts,
                       const struct check_case *cases, size_t n,
                       const size_t *count, double seconds)
{
    char *name = suite_name(opts->dir);
    size_t failures = count[V_FAIL], errors = count[V_ERROR];

    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", f);
    fprintf(f,
            "<testsuites tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "time=\"%.3f\">\n",
            n, failures, errors, seconds);
    fputs("  <testsuite name=\"", f);
    xml_put(f, name, 1);
    fprintf(f,
            "\" tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" "
            "skipped=\"0\" time=\"%.3f\">\n",
            n, failures, errors, seconds);
    for (size_t i = 0; i < n; i++) {
        const struct check_case *c = &cases[i];
        const char *tag = c->verdict == V_FAIL    ? "failure"
                          : c->verdict == V_ERROR ? "error"
                                                  : NULL;

        fputs("    <testcase name=\"", f);
        xml_put(f, c->label, 1);
        fputs("\" classname=\"", f);
        xml_put(f, name, 1);
        fprintf(f, "\" time=\"%.3f\"", c->seconds);
        if (tag) {
            fprintf(f, ">\n      <%s message=\"", tag);
            xml_put(f, c->summary, 1);
            fprintf(f, "\" type=\"%s\">",
                    c->verdict == V_FAIL ? "mismatch" : "error");
            xml_put(f, c->detail, 0);
            fprintf(f, "</%s>\n    </testcase>\n", tag);
        } else if (c->verdict == V_UPDATED) {
            fputs(">\n      <system-out>updated: ", f);
            xml_put(f, c->summary, 0);
            fputs("</system-out>\n    </testcase>\n", f);
        } else {
            fputs("/>\n", f);
        }
    }
    fputs("  </testsuite>\n</testsuites>\n", f);
    free(name);
    return ferror(f) ? -EIO : 0;
}

static int parse_jobs(const char *s, unsigned *out)
{
    unsigned long v;
    int rc = units_parse_count(s, 1, CHECK_MAX_JOBS, &v);

    if (rc == 0)
        *out = (unsigned)v;
    return rc;
}

enum { OPT_JUNIT = 256, OPT_TAP, OPT_UPDATE, OPT_BACKEND };

int check_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"jobs", required_argument, NULL, 'j'},
        {"junit", required_argument, NULL, OPT_JUNIT},
        {"tap", no_argument, NULL, OPT_TAP},
        {"update", no_argument, NULL, OPT_UPDATE},
        {"backend", required_argument, NULL, OPT_BACKEND},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct check_opts opts = {
        .jobs = 1, .backend = TC_BACKEND_AUTO, .dirfd = -1};
    struct suite s = {.opts = &opts};
    char err[ERR_MAX];
    size_t count[V_COUNT] = {0};
    pthread_t threads[CHECK_MAX_JOBS];
    unsigned started = 0;
    FILE *junit = NULL;
    struct stat st;
    struct timespec t0;
    int c, rc = CHECK_EXIT_USAGE;

    jobspec_policy_init(&opts.policy);
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":hj:", longopts, NULL)) != -1) {
        switch (c) {
        case 'j':
            if (parse_jobs(optarg, &opts.jobs))
                return report_usage_error(
                    "-j %s: give a number of cases to run at "
                    "a time, 1 to %d",
                    optarg, CHECK_MAX_JOBS);
            break;
        case OPT_JUNIT:
            opts.junit = optarg;
            break;
        case OPT_TAP:
            opts.tap = 1;
            break;
        case OPT_UPDATE:
            opts.update = 1;
            break;
        case OPT_BACKEND:
            if (jobspec_backend_named(optarg, &opts.backend) != 0)
                return report_usage_error("--backend %s: use kvm, emu or auto",
                                          optarg);
            break;
        case 'h':
            fputs(check_usage, stdout);
            return 0;
        case ':':
            return report_usage_error("option '%s' needs a value; see 'tincan "
                                      "check --help'",
                                      argv[optind - 1]);
        default:
            return report_usage_error("unknown option '%s'; see 'tincan check "
                                      "--help'",
                                      argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return report_usage_error("%s",
                                  "no suite: give the directory of cases, "
                                  "'tincan check DIR'");
    if (optind + 1 < argc)
        return report_usage_error("one DIR at a time ('%s' is extra)",
                                  argv[optind + 1]);
    opts.dir = argv[optind];
    if (opts.backend == TC_BACKEND_KVM && !report_kvm_runs())
        return report_kvm_refused();
    if (stat(opts.dir, &st) != 0)
        return report_usage_error("cannot read %s: %s", opts.dir,
                                  strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return report_usage_error(
            "%s is not a directory: give the directory of "
            "the cases",
            opts.dir);
    /* Case files are opened beneath DIR with no symlink followed; the code
     * and input through jobspec, with the same strictness. */
    c = jobspec_policy_allow_paths(&opts.policy, opts.dir, JOBSPEC_PATHS_STRICT,
                                   err, sizeof(err));
    if (c)
        return report_usage_error("cannot read %s: %s", opts.dir, strerror(-c));
    opts.dirfd = opts.policy.paths_fd;
    if (find_cases(opts.dir, &s.cases, &s.n, err, sizeof(err))) {
        report_usage_error("%s", err);
        goto out;
    }
    if (opts.junit) {
        junit = fopen(opts.junit, "w");
        if (!junit) {
            report_usage_error("--junit %s: %s", opts.junit, strerror(errno));
            goto out;
        }
    }
    if (opts.backend == TC_BACKEND_AUTO && !tc_kvm_usable())
        report_auto_on_emulator();
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.case_done, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (opts.tap)
        printf("TAP version 13\n1..%zu\n", s.n);
    for (; started < opts.jobs && started < s.n; started++)
        if (pthread_create(&threads[started], NULL, worker, &s) != 0)
            break;
    if (started == 0) {
        rc = CHECK_EXIT_FAILED;
        fprintf(stderr, "tincan: cannot start a thread: %s\n", strerror(errno));
        goto out_sync;
    }
    for (size_t i = 0; i < s.n; i++) {
        pthread_mutex_lock(&s.lock);
        while (!s.cases[i].done)
            pthread_cond_wait(&s.case_done, &s.lock);
        pthread_mutex_unlock(&s.lock);
        print_case(&opts, &s.cases[i], i);
        count[s.cases[i].verdict]++;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    printf("%s%zu cases: %zu passed", opts.tap ? "# " : "", s.n,
           count[V_PASS] + count[V_UPDATED]);
    if (opts.update)
        printf(" (%zu updated)", count[V_UPDATED]);
    printf(", %zu failed, %zu errored\n", count[V_FAIL], count[V_ERROR]);
    rc =
        count[V_FAIL] || count[V_ERROR] ? CHECK_EXIT_FAILED : CHECK_EXIT_PASSED;
    if (fflush(stdout) != 0) {
        fputs("tincan: cannot write the report to stdout\n", stderr);
        rc = CHECK_EXIT_FAILED;
    }
    if (junit) {
        int wrc =
            write_junit(junit, &opts, s.cases, s.n, count, seconds_since(&t0));

        if ((fclose(junit) != 0) | (wrc != 0)) {
            fprintf(stderr, "tincan: cannot write %s\n", opts.junit);
            rc = CHECK_EXIT_FAILED;
        }
        junit = NULL;
    }
out_sync:
    pthread_cond_destroy(&s.case_done);
    pthread_mutex_destroy(&s.lock);
out:
    if (junit)
        fclose(junit);
    free_cases(s.cases, s.n);
    jobspec_policy_free(&opts.policy);
    return rc;
}
