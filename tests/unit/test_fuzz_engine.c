/* test_fuzz_engine.c - the fuzz loop (runner/fuzz_engine.c) and its corpus
 * bookkeeping (runner/fuzz_corpus.c) over a fake executor, no guest: a
 * "program" that checks its input against "FUZZ!" a byte at a time (one
 * new edge per byte matched, the compare of the next byte logged) and
 * crashes on all five. Proves that coverage and compares find it, that
 * the crash is minimized to exactly the five bytes, that runs are a
 * function of seed and jobs, that seeds run first, that a stop or an
 * executor error ends the run, and the AFL hit-count classes and seed
 * directories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../runner/fuzz_engine.h"
#include "../runner/pcache.h"

static const char target[] = "FUZZ!";
#define TARGET_LEN 5
#define CRASH_RIP  0x1234
#define EDGE_BASE  100

struct fake {
    pthread_mutex_t mu;
    unsigned runs;
    unsigned fail_at; /* 1-based run to fail, or 0 */
    unsigned recorded;
    uint8_t first[4][16]; /* the first inputs run, for the seed order */
    size_t first_len[4];
};

static int fake_run(void *ctx, const uint8_t *in, size_t len, int feedback,
                    struct fuzz_result *r, char *err, size_t errlen)
{
    struct fake *f = ctx;
    size_t m = 0;
    unsigned n;

    pthread_mutex_lock(&f->mu);
    n = ++f->runs;
    if (f->recorded < 4) {
        f->first_len[f->recorded] = len < 16 ? len : 16;
        memcpy(f->first[f->recorded], in, f->first_len[f->recorded]);
        f->recorded++;
    }
    pthread_mutex_unlock(&f->mu);
    if (f->fail_at && n == f->fail_at) {
        snprintf(err, errlen, "fake: run %u failed", n);
        return -EIO;
    }
    while (m < TARGET_LEN && m < len && in[m] == (uint8_t)target[m])
        m++;
    memset(r, 0, sizeof(*r));
    r->site.status = m == TARGET_LEN ? SBX_FAULT : SBX_OK;
    r->site.vector = 14;
    strcpy(r->site.vector_name, "#PF");
    r->site.rip = CRASH_RIP;
    if (feedback) {
        struct fuzz_cmp *c = calloc(1, sizeof(*c));

        r->coverage = calloc(1, FUZZ_MAP_SIZE);
        assert_non_null(r->coverage);
        assert_non_null(c);
        for (size_t i = 0; i <= m; i++)
            r->coverage[EDGE_BASE + i] = 1;
        if (m < TARGET_LEN && m < len) {
            *c = (struct fuzz_cmp){
                .a = in[m], .b = (uint8_t)target[m], .size = 1};
            r->cmps = c;
            r->ncmps = 1;
        }
        r->priv = c;
    }
    return 0;
}

static void fake_release(void *ctx, struct fuzz_result *r)
{
    (void)ctx;
    free(r->coverage);
    free(r->priv);
}

struct seen {
    unsigned buckets;
    char last[FUZZ_BUCKET_NAME_MAX];
    uint8_t data[16];
    size_t len;
    unsigned ticks, stop_after_ticks;
};

static int on_bucket(void *ctx, const struct fuzz_bucket *b,
                     const struct fuzz_result *r, char *err, size_t errlen)
{
    struct seen *s = ctx;

    (void)err;
    (void)errlen;
    assert_int_equal(r->site.status, SBX_FAULT);
    s->buckets++;
    snprintf(s->last, sizeof(s->last), "%s", b->name);
    s->len = b->len < 16 ? b->len : 16;
    memcpy(s->data, b->data, s->len);
    return 0;
}

static int on_tick(void *ctx, const struct fuzz_stats *st)
{
    struct seen *s = ctx;

    (void)st;
    return s->stop_after_ticks && ++s->ticks >= s->stop_after_ticks;
}

static struct fuzz_config config(struct fake *f, struct seen *s, unsigned jobs,
                                 uint64_t execs, int feedback)
{
    return (struct fuzz_config){
        .exec = {.run = fake_run, .release = fake_release, .ctx = f},
        .jobs = jobs,
        .seed = 11,
        .max_execs = execs,
        .max_len = 64,
        .crash_on = FUZZ_CRASH_ON_DEFAULT,
        .feedback = feedback,
        .on_bucket = on_bucket,
        .on_tick = on_tick,
        .ctx = s,
    };
}

/* One run of the engine over the fake: the fake, what the callbacks saw,
 * the config and, after trial_run(), the engine. */
struct trial {
    struct fake f;
    struct seen s;
    struct fuzz_config cfg;
    struct fuzz_engine e;
    char err[256];
};

static void trial_init(struct trial *t, unsigned jobs, uint64_t execs,
                       int feedback)
{
    memset(t, 0, sizeof(*t));
    pthread_mutex_init(&t->f.mu, NULL);
    t->cfg = config(&t->f, &t->s, jobs, execs, feedback);
}

static int trial_run(struct trial *t)
{
    return fuzz_engine_run(&t->e, &t->cfg, t->err, sizeof(t->err));
}

static void test_coverage_and_compares_find_the_crash_and_shrink_it(void **st)
{
    struct trial t;
    const struct fuzz_engine *e = &t.e;

    (void)st;
    trial_init(&t, 1, 3000, 1);
    assert_int_equal(trial_run(&t), 0);
    assert_int_equal(e->stop, FUZZ_STOP_EXECS);
    assert_int_equal(e->stats.execs, 3000);
    assert_int_equal(t.f.runs, e->stats.execs + e->stats.min_execs);
    assert_int_equal(e->buckets.n, 1);
    assert_string_equal(e->buckets.b[0].name, "fault-pf-0x1234");
    assert_int_equal(e->buckets.b[0].len, TARGET_LEN);
    assert_memory_equal(e->buckets.b[0].data, target, TARGET_LEN);
    assert_true(e->buckets.b[0].found_at <= 3000);
    assert_int_equal(t.s.buckets, 1);
    assert_int_equal(t.s.len, TARGET_LEN);
    assert_memory_equal(t.s.data, target, TARGET_LEN);
    /* The empty input and one entry per byte matched, edges 100..104. */
    assert_int_equal(e->corpus.n, TARGET_LEN);
    assert_int_equal(e->corpus.edges, TARGET_LEN);
    assert_int_equal(e->stats.crash_execs, e->buckets.b[0].hits);
    fuzz_engine_free(&t.e);
}

static void test_blind_fuzzing_does_not_find_it(void **st)
{
    struct trial t;

    (void)st;
    trial_init(&t, 1, 3000, 0);
    assert_int_equal(trial_run(&t), 0);
    assert_int_equal(t.e.buckets.n, 0);
    assert_int_equal(t.e.corpus.n, 1); /* the empty seed, and nothing else */
    fuzz_engine_free(&t.e);
}

/* Two runs with the same config: the same corpus and buckets. */
static void assert_same_runs(unsigned jobs)
{
    static struct trial ta, tb; /* 2 x 64 KiB of virgin map: not on the stack */
    const struct fuzz_engine *a = &ta.e, *b = &tb.e;

    trial_init(&ta, jobs, 2000, 1);
    trial_init(&tb, jobs, 2000, 1);
    assert_int_equal(trial_run(&ta), 0);
    assert_int_equal(trial_run(&tb), 0);
    assert_int_equal(a->corpus.n, b->corpus.n);
    for (size_t i = 0; i < a->corpus.n; i++) {
        assert_int_equal(a->corpus.e[i].len, b->corpus.e[i].len);
        assert_memory_equal(a->corpus.e[i].data, b->corpus.e[i].data,
                            a->corpus.e[i].len);
        assert_int_equal(a->corpus.e[i].found_at, b->corpus.e[i].found_at);
    }
    assert_int_equal(a->buckets.n, b->buckets.n);
    for (size_t i = 0; i < a->buckets.n; i++) {
        assert_int_equal(a->buckets.b[i].found_at, b->buckets.b[i].found_at);
        assert_int_equal(a->buckets.b[i].hits, b->buckets.b[i].hits);
    }
    assert_int_equal(a->stats.execs, b->stats.execs);
    assert_int_equal(a->stats.min_execs, b->stats.min_execs);
    fuzz_engine_free(&ta.e);
    fuzz_engine_free(&tb.e);
}

static void test_a_run_is_a_function_of_seed_and_jobs(void **st)
{
    (void)st;
    assert_same_runs(1);
    assert_same_runs(3);
}

/* Was input (want, n) among the first k runs? */
static int ran_first(const struct fake *f, unsigned k, const char *want,
                     size_t n)
{
    for (unsigned i = 0; i < k && i < f->recorded; i++)
        if (f->first_len[i] == n && !memcmp(f->first[i], want, n))
            return 1;
    return 0;
}

/* Seeds run before any mutant: in their order with one job; with two, the
 * two executors race, so the first two runs are the seeds in either order.
 * The corpus keeps the seeds' order whatever the jobs. */
static void test_seeds_run_first_in_their_order(void **st)
{
    struct fuzz_seed list[] = {
        {.name = "a", .data = (uint8_t *)"FU", .len = 2},
        {.name = "b", .data = (uint8_t *)"xyz", .len = 3},
    };
    struct fuzz_seeds seeds = {.s = list, .n = 2};
    static const unsigned jobs[] = {1, 2};

    (void)st;
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++) {
        struct trial t;

        trial_init(&t, jobs[i], 50, 1);
        t.cfg.seeds = &seeds;
        assert_int_equal(trial_run(&t), 0);
        assert_true(t.f.recorded >= 2);
        if (jobs[i] == 1) {
            assert_int_equal(t.f.first_len[0], 2);
            assert_memory_equal(t.f.first[0], "FU", 2);
            assert_int_equal(t.f.first_len[1], 3);
            assert_memory_equal(t.f.first[1], "xyz", 3);
        } else {
            assert_true(ran_first(&t.f, 2, "FU", 2));
            assert_true(ran_first(&t.f, 2, "xyz", 3));
        }
        /* "FU" matched 2 bytes: new edges; "xyz" matched none: nothing. */
        assert_int_equal(t.e.corpus.e[0].len, 2);
        assert_memory_equal(t.e.corpus.e[0].data, "FU", 2);
        assert_int_equal(t.e.corpus.e[0].found_at, 1);
        fuzz_engine_free(&t.e);
    }
}

static void test_on_tick_stops_the_run(void **st)
{
    struct trial t;

    (void)st;
    trial_init(&t, 2, 0, 1); /* no budget: only the stop ends it */
    t.s.stop_after_ticks = 1;
    assert_int_equal(trial_run(&t), 0);
    assert_int_equal(t.e.stop, FUZZ_STOP_ASKED);
    assert_true(t.e.stats.execs > 0);
    fuzz_engine_free(&t.e);
}

static void test_an_executor_error_ends_the_run_with_its_message(void **st)
{
    struct trial t;

    (void)st;
    trial_init(&t, 1, 1000, 1);
    t.f.fail_at = 10;
    assert_int_equal(trial_run(&t), -EIO);
    assert_string_equal(t.err, "fake: run 10 failed");
    assert_int_equal(t.e.stats.execs, 9);
    fuzz_engine_free(&t.e);
}

static void test_new_inputs_are_saved_under_their_sha256(void **st)
{
    char dir[] = "/tmp/tincan-test-corpus.XXXXXX", path[512];
    char hex[PCACHE_HEX_LEN + 1];
    uint8_t digest[PCACHE_DIGEST_LEN];
    struct trial t;
    const struct fuzz_corpus *c = &t.e.corpus;
    struct stat sb;

    (void)st;
    assert_non_null(mkdtemp(dir));
    trial_init(&t, 1, 3000, 1);
    t.cfg.corpus_dir = dir;
    assert_int_equal(trial_run(&t), 0);
    /* Every entry but the empty starting input (never run as a find). */
    for (size_t i = 1; i < c->n; i++) {
        assert_int_equal(pcache_sha256(c->e[i].data, c->e[i].len, digest), 0);
        pcache_hex(digest, hex);
        snprintf(path, sizeof(path), "%s/%s", dir, hex);
        assert_int_equal(stat(path, &sb), 0);
        assert_int_equal(sb.st_size, c->e[i].len);
        assert_int_equal(unlink(path), 0);
    }
    assert_int_equal(rmdir(dir), 0); /* nothing else was written */
    fuzz_engine_free(&t.e);
}

static void test_hit_counts_fall_into_afl_classes(void **st)
{
    static const uint8_t counts[] = {0,  1,  2,  3,  4,   7,   8,
                                     15, 16, 31, 32, 127, 128, 255};
    static const uint8_t classes[] = {0,  1,  2,  4,  8,  8,   16,
                                      16, 32, 32, 64, 64, 128, 128};
    uint8_t *map = calloc(1, FUZZ_MAP_SIZE);

    (void)st;
    assert_non_null(map);
    memcpy(map + 1000, counts, sizeof(counts));
    fuzz_cov_classify(map);
    assert_memory_equal(map + 1000, classes, sizeof(classes));
    free(map);
}

static void test_an_input_is_novel_for_a_new_edge_or_a_new_class(void **st)
{
    struct fuzz_corpus *c = malloc(sizeof(*c));
    uint8_t *map = calloc(1, FUZZ_MAP_SIZE);

    (void)st;
    assert_non_null(c);
    assert_non_null(map);
    fuzz_corpus_init(c);
    map[7] = 1;
    assert_int_equal(fuzz_corpus_novel(c, map), FUZZ_NEW_EDGE);
    assert_int_equal(fuzz_corpus_novel(c, map), FUZZ_NEW_NONE);
    map[7] = 4; /* the class of 3 hits */
    assert_int_equal(fuzz_corpus_novel(c, map), FUZZ_NEW_HITS);
    map[7] = 1;
    map[FUZZ_MAP_SIZE - 1] = 128;
    assert_int_equal(fuzz_corpus_novel(c, map), FUZZ_NEW_EDGE);
    assert_int_equal(c->edges, 2);
    fuzz_corpus_free(c);
    free(c);
    free(map);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_seeds_are_the_regular_files_in_name_order_cut_to_max_len(void **st)
{
    char dir[] = "/tmp/tincan-test-seeds.XXXXXX", sub[600], err[256];
    struct fuzz_seeds s;

    (void)st;
    assert_non_null(mkdtemp(dir));
    write_file(dir, "b", "second");
    write_file(dir, "a", "first, and long");
    write_file(dir, ".hidden", "skipped");
    snprintf(sub, sizeof(sub), "%s/dir", dir);
    assert_int_equal(mkdir(sub, 0755), 0);
    /* Planted: a FIFO (opening it would block) and a link out. */
    snprintf(sub, sizeof(sub), "%s/fifo", dir);
    assert_int_equal(mkfifo(sub, 0644), 0);
    snprintf(sub, sizeof(sub), "%s/link", dir);
    assert_int_equal(symlink("/etc/passwd", sub), 0);
    assert_int_equal(fuzz_seeds_load(dir, 5, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.s[0].name, "a");
    assert_int_equal(s.s[0].len, 5);
    assert_memory_equal(s.s[0].data, "first", 5);
    assert_string_equal(s.s[1].name, "b");
    assert_int_equal(s.s[1].len, 5);
    fuzz_seeds_free(&s);
    snprintf(sub, sizeof(sub), "%s/missing", dir);
    assert_int_equal(fuzz_seeds_load(sub, 5, &s, err, sizeof(err)), 0);
    assert_int_equal(s.n, 0);
    /* mkdir -p below it, and a file in the way. */
    snprintf(sub, sizeof(sub), "%s/x/y/z", dir);
    assert_int_equal(fuzz_make_dir(sub, err, sizeof(err)), 0);
    assert_int_equal(fuzz_make_dir(sub, err, sizeof(err)), 0);
    snprintf(sub, sizeof(sub), "%s/b/c", dir);
    assert_int_equal(fuzz_make_dir(sub, err, sizeof(err)), -ENOTDIR);
    assert_non_null(strstr(err, "cannot create the directory"));
    snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
    assert_int_equal(system(sub), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_coverage_and_compares_find_the_crash_and_shrink_it),
        cmocka_unit_test(test_blind_fuzzing_does_not_find_it),
        cmocka_unit_test(test_a_run_is_a_function_of_seed_and_jobs),
        cmocka_unit_test(test_seeds_run_first_in_their_order),
        cmocka_unit_test(test_on_tick_stops_the_run),
        cmocka_unit_test(test_an_executor_error_ends_the_run_with_its_message),
        cmocka_unit_test(test_new_inputs_are_saved_under_their_sha256),
        cmocka_unit_test(test_hit_counts_fall_into_afl_classes),
        cmocka_unit_test(test_an_input_is_novel_for_a_new_edge_or_a_new_class),
        cmocka_unit_test(
            test_seeds_are_the_regular_files_in_name_order_cut_to_max_len),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
