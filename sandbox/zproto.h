/*
 * zproto.h - the protocol between the runner and a zygote (zygote.c): the
 * fds the zygote starts with, and the messages on the control socket and on
 * each job's own socket. Every message is one SOCK_SEQPACKET datagram, fds
 * travel as SCM_RIGHTS beside it.
 *
 *   runner                          zygote
 *   spawn: fd 2 = the runner's stderr, -> ZMSG_READY (or the socket closes)
 *          fd 3 = control socket,
 *          fd 4 = /dev/kvm (kvm)
 *   ZMSG_JOB + [memfd, job socket, cgroup.procs]  (on the control socket)
 *                                   fork the job's child, then on the job
 *                                   socket: ZMSG_STARTED + [pidfd], or
 *                                   ZMSG_FAILED; later ZMSG_ENDED
 *
 * The zygote reads nothing of a job but its backend, its guest memory size
 * and feedback hooks (which template the child starts from) and where the
 * job description lies in the memfd; it never maps the memfd. It exits when the
 * control socket closes (the runner went away), killing the children it still
 * has.
 */
#ifndef SANDBOX_ZPROTO_H
#define SANDBOX_ZPROTO_H

#include <stdint.h>

#include "sandbox.h"

#define ZPROTO_VERSION 1

/* The zygote's fds at exec: the control socket, and /dev/kvm (KVM only). */
#define ZYG_FD_CONTROL 3
#define ZYG_FD_KVM     4

/* argv[1] of the zygote: which backend it serves. */
#define ZYG_ARG_KVM "kvm"
#define ZYG_ARG_EMU "emu"

/* Isolation steps the zygote reports, one line each, in ZMSG_READY. */
#define ZYG_INFO_MAX 1024

enum zmsg_kind {
    ZMSG_READY = 1, /* zygote -> runner, once, on the control socket */
    ZMSG_JOB,       /* runner -> zygote, on the control socket */
    ZMSG_STARTED,   /* zygote -> runner, on the job socket; + pidfd */
    ZMSG_FAILED,    /* zygote -> runner, on the job socket */
    ZMSG_ENDED,     /* zygote -> runner, on the job socket */
};

struct zmsg_ready {
    uint32_t kind;    /* ZMSG_READY */
    uint32_t version; /* ZPROTO_VERSION */
    int32_t rc;       /* 0, or -errno: the zygote cannot run jobs (err) */
    uint32_t uid;     /* the uid the zygote and its children run as */
    char err[SBX_MESSAGE_MAX];
    char info[ZYG_INFO_MAX]; /* what isolation the host gave, line by line */
};

/* The fds that travel with ZMSG_JOB, in this order. */
enum { ZJOB_FD_MEMFD, ZJOB_FD_SOCKET, ZJOB_FD_CGROUP, ZJOB_FDS };

struct zmsg_job {
    uint32_t kind;       /* ZMSG_JOB */
    uint32_t has_cgroup; /* ZJOB_FD_CGROUP is present */
    uint64_t mem_size;   /* the template to start from (emulator) */
    uint64_t file_size;  /* bytes of the memfd */
    uint64_t job_off;    /* where struct sbx_job lies in it */
    uint32_t feedback;   /* the template's feedback hooks (SBX_FEEDBACK_*) */
    uint32_t reserved;
};

struct zmsg_started {
    uint32_t kind; /* ZMSG_STARTED; a pidfd of the child travels with it */
    int32_t pid;   /* in the zygote's pid namespace */
};

struct zmsg_failed {
    uint32_t kind; /* ZMSG_FAILED: no child was started */
    int32_t rc;    /* -errno */
    char err[SBX_MESSAGE_MAX];
};

struct zmsg_ended {
    uint32_t kind;       /* ZMSG_ENDED: the child is reaped */
    int32_t wstatus;     /* as wait4() gave it */
    uint64_t maxrss_kib; /* the child's peak resident set */
};

#endif
