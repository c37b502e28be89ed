/*
 * fsafe.h - files read and replaced beneath a directory that someone else
 * may write to, without following what they planted there: paths are
 * resolved beneath a directory fd (openat2 RESOLVE_BENEATH, or component by
 * component with O_NOFOLLOW), only regular files are read (opened
 * O_NONBLOCK, so a FIFO cannot hang the caller), reads stop at the
 * caller's limit, and a file is replaced through a new O_CREAT|O_EXCL
 * temporary renamed over it. `tincan check` reads its case files with it,
 * jobspec the host paths a job description names (--allow-paths), and the
 * payload cache its entries.
 */
#ifndef RUNNER_FSAFE_H
#define RUNNER_FSAFE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* fsafe_open_beneath: refuse every symbolic link on the way, not only
 * those that lead out of the directory. */
#define FSAFE_NO_SYMLINKS 1u

/*
 * Open path (relative to dirfd, which it must stay beneath) for reading:
 * close-on-exec, O_NONBLOCK, O_NOCTTY, then fstat: anything but a regular
 * file is refused. With openat2(2): RESOLVE_BENEATH and
 * RESOLVE_NO_MAGICLINKS (so "..", absolute paths and symlinks that leave
 * dirfd, and /proc's magic links, are refused), plus RESOLVE_NO_SYMLINKS
 * with FSAFE_NO_SYMLINKS. On a kernel without openat2 (before 5.6), the
 * stricter fsafe_open_walk(). Returns 0 and the fd in *fd, or -errno with
 * why, a phrase to follow "cannot open NAME: " ("it is a FIFO, not a
 * regular file"; -EXDEV: "it leads outside the directory").
 */
int fsafe_open_beneath(int dirfd, const char *path, unsigned flags, int *fd,
                       char *why, size_t whylen);

/*
 * The fallback of fsafe_open_beneath, for kernels without openat2: path's
 * components opened one by one from dirfd with O_NOFOLLOW. Stricter: every
 * symbolic link and every ".." is refused, wherever it would lead.
 */
int fsafe_open_walk(int dirfd, const char *path, int *fd, char *why,
                    size_t whylen);

/*
 * Read fd to its end, refusing more than max bytes: -EFBIG as soon as
 * fstat's size or the bytes read pass max, so a huge file costs no memory.
 * Returns 0 with *out malloc'd (NULL when empty) and *len, or -EFBIG,
 * -ENOMEM or read's -errno.
 */
int fsafe_read_max(int fd, size_t max, uint8_t **out, size_t *len);

/*
 * Replace name (one component) in dirfd with p[0..n): written to a new
 * temporary in dirfd (O_CREAT|O_EXCL|O_NOFOLLOW, a random name starting
 * with '.'), fsync'ed, then renamed over name. An existing regular file
 * keeps its permission bits; a new one is created with mode (less the
 * umask). A symlink at name is replaced itself, never followed. Returns 0
 * or -errno with why (the step that failed and strerror).
 */
int fsafe_replace(int dirfd, const char *name, const void *p, size_t n,
                  mode_t mode, char *why, size_t whylen);

#endif
