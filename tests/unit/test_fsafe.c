/*
 * test_fsafe.c - confined opens (openat2 and the component walk, table-
 * driven over one tree of planted files), bounded reads, and replacing a
 * file without following a planted symlink or widening its mode.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../runner/fsafe.h"

static char root[] = "/tmp/tincan-fsafe.XXXXXX";
static char suite[300];
static int suite_fd = -1;

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    assert_int_equal(fchmod(fd, mode), 0);
    assert_int_equal(close(fd), 0);
}

static void at(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", suite, name);
}

/*
 * root/secret (outside), and root/suite holding: a.bin, sub/b.bin, in-tree
 * and escaping symlinks, a FIFO, a symlink to /dev/zero, a directory.
 */
static int setup(void **state)
{
    char p[400], q[400];

    (void)state;
    if (!mkdtemp(root))
        return -1;
    snprintf(suite, sizeof(suite), "%s/suite", root);
    snprintf(p, sizeof(p), "%s/secret", root);
    write_file(p, "SECRET\n", 0600);
    if (mkdir(suite, 0755) != 0)
        return -1;
    at(p, sizeof(p), "a.bin");
    write_file(p, "AAAA", 0644);
    at(p, sizeof(p), "sub");
    if (mkdir(p, 0755) != 0)
        return -1;
    at(p, sizeof(p), "sub/b.bin");
    write_file(p, "BB", 0644);
    at(p, sizeof(p), "fifo.in");
    if (mkfifo(p, 0644) != 0)
        return -1;
    snprintf(q, sizeof(q), "%s/secret", root);
    at(p, sizeof(p), "out.out");
    if (symlink(q, p) != 0)
        return -1;
    at(p, sizeof(p), "up.out");
    if (symlink("../secret", p) != 0)
        return -1;
    at(p, sizeof(p), "inside.bin");
    if (symlink("sub/b.bin", p) != 0)
        return -1;
    at(p, sizeof(p), "link");
    if (symlink("sub", p) != 0)
        return -1;
    at(p, sizeof(p), "zero.in");
    if (symlink("/dev/zero", p) != 0)
        return -1;
    suite_fd = open(suite, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return suite_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[400];

    (void)state;
    close(suite_fd);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

/* What opening one path gives: the bytes, or the error; why says what
 * each error is (why_other for the ones the path itself decides). */
struct open_case {
    const char *path;
    int rc_beneath, rc_strict, rc_walk; /* none, NO_SYMLINKS, the walk */
    const char *bytes;                  /* when it opens */
    const char *why_other;              /* not ELOOP or EXDEV */
};

static const struct open_case open_cases[] = {
    {"a.bin", 0, 0, 0, "AAAA", NULL},
    {"sub/b.bin", 0, 0, 0, "BB", NULL},
    {"./sub//b.bin", 0, 0, 0, "BB", NULL},
    {"inside.bin", 0, -ELOOP, -ELOOP, "BB", NULL},
    {"link/b.bin", 0, -ELOOP, -ELOOP, "BB", NULL},
    {"sub/../a.bin", 0, 0, -EXDEV, "AAAA", NULL},
    {"../secret", -EXDEV, -EXDEV, -EXDEV, NULL, NULL},
    {"up.out", -EXDEV, -ELOOP, -ELOOP, NULL, NULL},
    {"out.out", -EXDEV, -ELOOP, -ELOOP, NULL, NULL},
    {"zero.in", -EXDEV, -ELOOP, -ELOOP, NULL, NULL},
    {"/etc/passwd", -EXDEV, -EXDEV, -EXDEV, NULL, NULL},
    {"/proc/self/environ", -EXDEV, -EXDEV, -EXDEV, NULL, NULL},
    {"fifo.in", -EINVAL, -EINVAL, -EINVAL, NULL,
     "it is a FIFO, not a regular file"},
    {"sub", -EISDIR, -EISDIR, -EISDIR, NULL,
     "it is a directory, not a regular file"},
    {"missing.bin", -ENOENT, -ENOENT, -ENOENT, NULL,
     "No such file or directory"},
};

static const char *expected_why(const struct open_case *c, int rc)
{
    if (rc == -ELOOP)
        return "it is a symbolic link (or its path has one), which is not "
               "followed here";
    if (rc == -EXDEV)
        return "it leads outside the directory";
    return c->why_other;
}

/* One open by way (0: beneath, 1: beneath + NO_SYMLINKS, 2: the walk). */
static int open_by(int way, const char *path, int *fd, char *why, size_t len)
{
    if (way == 2)
        return fsafe_open_walk(suite_fd, path, fd, why, len);
    return fsafe_open_beneath(suite_fd, path, way ? FSAFE_NO_SYMLINKS : 0, fd,
                              why, len);
}

static void
test_opens_stay_beneath_the_directory_and_read_only_regular_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(open_cases) / sizeof(open_cases[0]); i++) {
        const struct open_case *c = &open_cases[i];
        const int want[3] = {c->rc_beneath, c->rc_strict, c->rc_walk};

        for (int way = 0; way < 3; way++) {
            char why[256] = "";
            uint8_t *out = NULL;
            size_t len = 0;
            int fd = -1, rc = open_by(way, c->path, &fd, why, sizeof(why));

            if (rc != want[way])
                fail_msg("%s (way %d): rc %d, want %d (%s)", c->path, way, rc,
                         want[way], why);
            if (rc) {
                assert_int_equal(fd, -1);
                if (strcmp(why, expected_why(c, rc)))
                    fail_msg("%s (way %d): why '%s', want '%s'", c->path, way,
                             why, expected_why(c, rc));
                continue;
            }
            assert_int_equal(fsafe_read_max(fd, 100, &out, &len), 0);
            assert_int_equal(len, strlen(c->bytes));
            assert_memory_equal(out, c->bytes, len);
            assert_int_equal(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
            free(out);
            close(fd);
        }
    }
}

static void test_fifo_open_returns_at_once_without_a_writer(void **state)
{
    struct timespec t0, t1;
    char why[256];
    int fd;

    (void)state;
    alarm(10); /* a blocking open would wait for a writer forever */
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(fsafe_open_beneath(suite_fd, "fifo.in", FSAFE_NO_SYMLINKS,
                                        &fd, why, sizeof(why)),
                     -EINVAL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    alarm(0);
    assert_true(t1.tv_sec - t0.tv_sec < 5);
}

static void test_read_refuses_more_than_max_before_reading_it(void **state)
{
    char p[400], why[256];
    uint8_t *out = (uint8_t *)"x";
    size_t len = 7;
    int fd;

    (void)state;
    at(p, sizeof(p), "huge.in");
    fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    /* 1 TiB, sparse: reading it would take forever and all of memory. */
    assert_int_equal(ftruncate(fd, 1LL << 40), 0);
    close(fd);
    assert_int_equal(
        fsafe_open_beneath(suite_fd, "huge.in", 0, &fd, why, sizeof(why)), 0);
    assert_int_equal(fsafe_read_max(fd, 1u << 20, &out, &len), -EFBIG);
    assert_null(out);
    assert_int_equal(len, 0);
    close(fd);
    assert_int_equal(unlink(p), 0);
    /* Exactly max is fine; max - 1 is not. */
    assert_int_equal(
        fsafe_open_beneath(suite_fd, "a.bin", 0, &fd, why, sizeof(why)), 0);
    assert_int_equal(fsafe_read_max(fd, 3, &out, &len), -EFBIG);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(fsafe_read_max(fd, 4, &out, &len), 0);
    assert_int_equal(len, 4);
    free(out);
    close(fd);
}

static void test_replace_replaces_a_planted_symlink_not_its_target(void **state)
{
    char p[400], secret[400], why[256], buf[32] = "";
    struct stat st;
    FILE *f;

    (void)state;
    snprintf(secret, sizeof(secret), "%s/secret", root);
    at(p, sizeof(p), "planted.out");
    assert_int_equal(symlink(secret, p), 0);
    assert_int_equal(fsafe_replace(suite_fd, "planted.out", "guest output", 12,
                                   0644, why, sizeof(why)),
                     0);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    f = fopen(secret, "rb");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof(buf), f), 7);
    fclose(f);
    assert_memory_equal(buf, "SECRET\n", 7);
    assert_int_equal(unlink(p), 0);
}

static void
test_replace_keeps_an_existing_mode_and_a_new_file_gets_mode(void **state)
{
    char p[400], why[256];
    uint8_t *out = NULL;
    size_t len = 0;
    struct stat st;
    mode_t old = umask(022);
    int fd;

    (void)state;
    at(p, sizeof(p), "private.out");
    write_file(p, "old", 0600);
    assert_int_equal(fsafe_replace(suite_fd, "private.out", "new bytes", 9,
                                   0644, why, sizeof(why)),
                     0);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(
        fsafe_open_beneath(suite_fd, "private.out", 0, &fd, why, sizeof(why)),
        0);
    assert_int_equal(fsafe_read_max(fd, 100, &out, &len), 0);
    assert_int_equal(len, 9);
    assert_memory_equal(out, "new bytes", 9);
    free(out);
    close(fd);
    assert_int_equal(unlink(p), 0);
    /* New: mode less the umask. */
    assert_int_equal(
        fsafe_replace(suite_fd, "fresh.out", "", 0, 0666, why, sizeof(why)), 0);
    at(p, sizeof(p), "fresh.out");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(unlink(p), 0);
    umask(old);
}

static void test_replace_leaves_no_temporary_behind(void **state)
{
    struct dirent *de;
    char why[256];
    int dots = 0;
    DIR *d;

    (void)state;
    assert_int_equal(
        fsafe_replace(suite_fd, "t.out", "x", 1, 0644, why, sizeof(why)), 0);
    /* A directory where the file should be: the rename fails, and the
     * temporary is removed. */
    assert_int_equal(
        fsafe_replace(suite_fd, "sub", "x", 1, 0644, why, sizeof(why)),
        -EISDIR);
    assert_string_equal(why, "renaming the temporary file into place: Is a "
                             "directory");
    d = opendir(suite);
    assert_non_null(d);
    while ((de = readdir(d)))
        dots += de->d_name[0] == '.' && strcmp(de->d_name, ".") &&
                strcmp(de->d_name, "..");
    closedir(d);
    assert_int_equal(dots, 0);
    assert_int_equal(unlinkat(suite_fd, "t.out", 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_opens_stay_beneath_the_directory_and_read_only_regular_files),
        cmocka_unit_test(test_fifo_open_returns_at_once_without_a_writer),
        cmocka_unit_test(test_read_refuses_more_than_max_before_reading_it),
        cmocka_unit_test(
            test_replace_replaces_a_planted_symlink_not_its_target),
        cmocka_unit_test(
            test_replace_keeps_an_existing_mode_and_a_new_file_gets_mode),
        cmocka_unit_test(test_replace_leaves_no_temporary_behind),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
