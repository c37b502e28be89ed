/*
 * zygote.h - the runner's side of the zygotes (sandbox/zyg.c): one small
 * process per backend, exec'd from the copy of tincan-zygote built into
 * this library, with an empty environment, before any job exists. Every
 * job's child is forked by a zygote, never by the caller's process, so no
 * child holds anything of the caller or of another job. Started on first
 * use; a zygote that dies is started again for the next job.
 */
#ifndef RUNNER_ZYGOTE_H
#define RUNNER_ZYGOTE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../sandbox/kvm.h"
#include "../sandbox/sandbox.h"

/* The uid a root runner's jobs run as unless TINCAN_JOB_UID says another
 * (nobody on Debian). */
#define ZYGOTE_DEFAULT_JOB_UID 65534

/* How long a zygote may take to start, or to start a job's child (the
 * emulator builds a template for a new memory size first). */
#define ZYGOTE_START_TIMEOUT_MS 30000

/* /dev/kvm, opened once by the runner (and handed to the KVM zygote):
 * the fd, or -errno with the reason in err. Safe from any thread. */
int zygote_kvm_fd(char *err, size_t errlen);

/* What kind of KVM that is (sandbox/kvm.h), decided with the same first
 * probe, never per job; KVM_KIND_NONE when /dev/kvm did not open. The
 * zygote gets it as its third argument (struct sbx_host.kvm_kind). */
enum kvm_kind zygote_kvm_kind(void);

/* A job's child as the zygote started it. */
struct zygote_job {
    int sock;  /* the job's socket: ZMSG_ENDED arrives here */
    int pidfd; /* the child, for the backstop's SIGKILL */
    pid_t pid; /* in the zygote's PID namespace (the caller's) */
};

/*
 * Have the backend's zygote fork a child for the job whose memfd is memfd
 * (file_size bytes, the report at offset 0, struct sbx_job at job_off),
 * from the template for mem_size with the feedback hooks feedback names
 * (the job's sbx_job.feedback), joining the cgroup whose cgroup.procs is
 * cgroup_fd (-1: none). Starts the zygote first when needed. Returns 0, or
 * -errno with one line in err.
 */
int zygote_start_job(enum sbx_backend backend, int memfd, uint64_t file_size,
                     uint64_t job_off, uint64_t mem_size, unsigned feedback,
                     int cgroup_fd, struct zygote_job *job, char *err,
                     size_t errlen);

/*
 * Wait for the child's end until deadline_us (CLOCK_MONOTONIC, µs).
 * Returns 1 when it ended (its wait status and peak RSS filled in), 0 when
 * the deadline passed first, -EPIPE when the zygote went away without
 * saying (the child is then killed through its pidfd).
 */
int zygote_wait_job(struct zygote_job *job, uint64_t deadline_us, int *wstatus,
                    uint64_t *maxrss_kib);

/* SIGKILL the job's child through its pidfd (never by pid). */
void zygote_kill_job(struct zygote_job *job);
void zygote_job_close(struct zygote_job *job);

/*
 * What isolation the backend's zygote got: the uid its children run as,
 * then one line per step the host refused, starting it if needed. Returns
 * 0 or -errno with the reason in buf.
 */
int zygote_isolation(enum sbx_backend backend, char *buf, size_t len);

/* The zygote's pid (starting it), for tests that look at its children;
 * -1 if it cannot start. */
pid_t zygote_pid(enum sbx_backend backend);

#endif
