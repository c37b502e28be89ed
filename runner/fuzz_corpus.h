/*
 * fuzz_corpus.h - the inputs `tincan fuzz` keeps and what they covered:
 * AFL's hit-count classes and virgin map (an input joins the corpus when it
 * takes an edge never taken, or takes one a number of times in a class not
 * seen for it), the corpus entries with the compare log each one gave, the
 * seeds read from a directory, and files written into a directory through
 * a temporary file and rename() (corpus entries under the SHA-256 of their
 * bytes, as pcache names payloads).
 */
#ifndef RUNNER_FUZZ_CORPUS_H
#define RUNNER_FUZZ_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "fuzz_mutator.h"

/* The edge map: AFL's 64 KiB, as the emulator fills it (sandbox.h). */
#define FUZZ_MAP_SIZE 65536

/* What an execution's map adds (fuzz_corpus_novel). */
enum fuzz_novelty {
    FUZZ_NEW_NONE = 0,
    FUZZ_NEW_HITS, /* a known edge in a new hit-count class */
    FUZZ_NEW_EDGE, /* an edge never taken before */
};

struct fuzz_entry {
    uint8_t *data;
    size_t len;
    uint64_t found_at;     /* the execution that found it; 0 for a seed */
    struct fuzz_cmp *cmps; /* the compares its run made */
    size_t ncmps;
    unsigned picks;            /* how often the scheduler has fuzzed it */
    enum fuzz_novelty novelty; /* what it added when it joined */
};

struct fuzz_corpus {
    struct fuzz_entry *e;
    size_t n, cap;
    /* AFL's virgin bits: a bit set is a hit-count class not yet seen at
     * that edge (0xff: the edge was never taken). */
    uint8_t virgin[FUZZ_MAP_SIZE];
    size_t edges; /* edges taken at least once */
};

void fuzz_corpus_init(struct fuzz_corpus *c);
void fuzz_corpus_free(struct fuzz_corpus *c);

/* Hit counts into AFL's classes in place: 0, 1, 2, 3, 4-7, 8-15, 16-31,
 * 32-127, 128+ become 0 and one bit each (1, 2, 4, ..., 128). */
void fuzz_cov_classify(uint8_t *map);

/* What the classified map adds to what c has seen; records it. */
enum fuzz_novelty fuzz_corpus_novel(struct fuzz_corpus *c, const uint8_t *map);

/* Keep a copy of data (and of its compares). Returns 0 or -ENOMEM. */
int fuzz_corpus_add(struct fuzz_corpus *c, const uint8_t *data, size_t len,
                    uint64_t found_at, const struct fuzz_cmp *cmps,
                    size_t ncmps);

/* The inputs of a seed directory. */
struct fuzz_seed {
    char *name;
    uint8_t *data;
    size_t len;
};

struct fuzz_seeds {
    struct fuzz_seed *s;
    size_t n;
};

/*
 * Every regular file in dir (not those starting with '.'), in name order,
 * each cut to its first max_len bytes; links, FIFOs and the like are
 * skipped, never opened. A directory that does not exist gives no seeds.
 * Returns 0, or -errno with a message in err.
 */
int fuzz_seeds_load(const char *dir, size_t max_len, struct fuzz_seeds *out,
                    char *err, size_t errlen);
void fuzz_seeds_free(struct fuzz_seeds *s);

/* Create dir and the directories above it that are missing, as mkdir -p
 * does. Returns 0, or -errno with a message in err. */
int fuzz_make_dir(const char *dir, char *err, size_t errlen);

/* Write dir/name whole through a temporary file in dir and rename().
 * Returns 0 or -errno with a message in err naming the file. */
int fuzz_write_file(const char *dir, const char *name, const void *p,
                    size_t len, char *err, size_t errlen);

/* Save an input into dir as the hex SHA-256 of its bytes (so the same
 * input is one file however often it is saved). Returns 0 or -errno. */
int fuzz_corpus_save(const char *dir, const uint8_t *data, size_t len,
                     char *err, size_t errlen);

#endif
