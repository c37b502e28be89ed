/*
 * ucdl.h - Unicorn, loaded on first use. libtincan does not link libunicorn:
 * ucdl_load() dlopen()s it (in the parent, before the first emulator job's
 * fork), and ucdl.c defines the uc_* functions emu.c calls as thin forwards
 * to it. A process that only runs KVM jobs never maps the library, so its
 * job children do not carry Unicorn's relocated data (about 1.5 MiB of
 * resident memory each), and tincan runs on hosts without libunicorn as
 * long as it is not asked for the emulator.
 */
#ifndef SANDBOX_UCDL_H
#define SANDBOX_UCDL_H

#include <stddef.h>

/*
 * Load libunicorn once per process; safe to call from several threads.
 * Returns 0, or -ENOENT with one line in err (when not NULL) saying what is
 * missing and which package provides it.
 */
int ucdl_load(char *err, size_t errlen);

#endif
