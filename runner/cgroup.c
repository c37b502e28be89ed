/*
 * cgroup.c - per-job cgroup v2 leaves under "<our cgroup>/tincan-<pid>"
 * (see cgroup.h). The parent creates each leaf and opens its cgroup.procs;
 * the child writes itself into it before it creates the VM, so the VM's
 * kernel memory is charged to the leaf.
 */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CG_CONTROLLERS "+memory +pids"
/* The child itself, and the worker task KVM starts for its VM at the
 * first KVM_RUN (Linux 6.13+, in the child's cgroup); nothing more. */
#define CG_PIDS_MAX "2"

static int write_file(const char *dir, const char *name, const char *val)
{
    char path[PATH_MAX + 64];
    int fd, rc = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (write(fd, val, strlen(val)) < 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* The cgroup2 mount point and our path in it, from /proc. */
static int find_own_cgroup(char *out, size_t len, char *why, size_t wlen)
{
    char line[PATH_MAX + 256], mnt[PATH_MAX] = "", rel[PATH_MAX] = "";
    FILE *f = fopen("/proc/self/cgroup", "re");

    if (!f) {
        snprintf(why, wlen, "cannot read /proc/self/cgroup");
        return -1;
    }
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "0::", 3) == 0)
            sscanf(line + 3, "%4095s", rel);
    fclose(f);
    f = fopen("/proc/self/mountinfo", "re");
    if (!f) {
        snprintf(why, wlen, "cannot read /proc/self/mountinfo");
        return -1;
    }
    while (fgets(line, sizeof(line), f)) {
        char point[PATH_MAX], *sep = strstr(line, " - cgroup2 ");
        if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1) {
            snprintf(mnt, sizeof(mnt), "%s", point);
            break;
        }
    }
    fclose(f);
    if (!mnt[0] || !rel[0]) {
        snprintf(why, wlen, "no cgroup v2 hierarchy is mounted");
        return -1;
    }
    if ((size_t)snprintf(out, len, "%s%s", mnt, strcmp(rel, "/") ? rel : "") >=
        len) {
        snprintf(why, wlen, "the cgroup path is too long");
        return -1;
    }
    return 0;
}

void cgroup_init(struct cgroup_ctx *cg)
{
    char base[PATH_MAX], ctl[PATH_MAX + 32], have[256] = "";
    FILE *f;
    int rc;

    memset(cg, 0, sizeof(*cg));
    if (find_own_cgroup(base, sizeof(base), cg->why, sizeof(cg->why)))
        return;
    snprintf(ctl, sizeof(ctl), "%s/cgroup.controllers", base);
    f = fopen(ctl, "re");
    if (f) {
        if (!fgets(have, sizeof(have), f))
            have[0] = '\0';
        fclose(f);
    }
    if (!strstr(have, "memory") || !strstr(have, "pids")) {
        snprintf(cg->why, sizeof(cg->why),
                 "cgroup v2 at %.200s lacks the memory and pids controllers",
                 base);
        return;
    }
    rc = write_file(base, "cgroup.subtree_control", CG_CONTROLLERS);
    if (rc) {
        snprintf(cg->why, sizeof(cg->why),
                 "cannot enable memory and pids below %.200s: %s", base,
                 strerror(-rc));
        return;
    }
    snprintf(cg->dir, sizeof(cg->dir), "%.4000s/tincan-%d", base,
             (int)getpid());
    if (mkdir(cg->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(cg->why, sizeof(cg->why), "cannot create %.200s: %s", cg->dir,
                 strerror(errno));
        return;
    }
    rc = write_file(cg->dir, "cgroup.subtree_control", CG_CONTROLLERS);
    if (rc) {
        snprintf(cg->why, sizeof(cg->why),
                 "cannot enable memory and pids in %.200s: %s", cg->dir,
                 strerror(-rc));
        rmdir(cg->dir);
        return;
    }
    cg->usable = 1;
}

void cgroup_fini(struct cgroup_ctx *cg)
{
    if (cg->usable)
        rmdir(cg->dir);
    cg->usable = 0;
}

void cgroup_job_create(struct cgroup_ctx *cg, uint64_t mem_max,
                       struct cgroup_job *job)
{
    char val[32];
    unsigned long n;

    job->procs_fd = -1;
    job->dir[0] = '\0';
    if (!cg->usable)
        return;
    n = __atomic_add_fetch(&cg->seq, 1, __ATOMIC_RELAXED);
    snprintf(job->dir, sizeof(job->dir), "%.4000s/job-%lu", cg->dir, n);
    if (mkdir(job->dir, 0700) != 0)
        goto fail;
    snprintf(val, sizeof(val), "%llu", (unsigned long long)mem_max);
    if (write_file(job->dir, "memory.max", val) ||
        write_file(job->dir, "pids.max", CG_PIDS_MAX))
        goto fail;
    char procs[PATH_MAX + 16];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", job->dir);
    job->procs_fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (job->procs_fd >= 0)
        return;
fail:
    if (job->dir[0])
        rmdir(job->dir);
    job->dir[0] = '\0';
}

unsigned long cgroup_job_oom_kills(const struct cgroup_job *job)
{
    char path[PATH_MAX + 32], line[128];
    unsigned long n = 0, v;
    FILE *f;

    if (!job->dir[0])
        return 0;
    snprintf(path, sizeof(path), "%s/memory.events", job->dir);
    f = fopen(path, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "oom_kill %lu", &v) == 1)
            n = v;
    fclose(f);
    return n;
}

void cgroup_job_remove(struct cgroup_job *job)
{
    if (job->procs_fd >= 0)
        close(job->procs_fd);
    job->procs_fd = -1;
    if (job->dir[0])
        rmdir(job->dir);
    job->dir[0] = '\0';
}
