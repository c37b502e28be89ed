/*
 * ucdl.c - Unicorn, loaded on first use (see ucdl.h). Owns the dlopen() of
 * libunicorn and the forwarding definitions of the uc_* functions tincan
 * calls: each has Unicorn's own name and prototype (from <unicorn/unicorn.h>)
 * and calls the loaded library's. Add a function here when emu.c starts
 * using one; the link fails until then.
 */
#include "ucdl.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <unicorn/unicorn.h>

#define UCDL_STR_(x) #x
#define UCDL_STR(x)  UCDL_STR_(x)
/* The soname of the Unicorn this was compiled against (Debian: libunicorn2). */
#define UCDL_SONAME "libunicorn.so." UCDL_STR(UC_API_MAJOR)

/* The loaded functions. Called only after ucdl_load() succeeded: the
 * emulator backend loads the library before it builds any engine. */
static struct {
    uc_err (*open)(uc_arch, uc_mode, uc_engine **);
    uc_err (*close)(uc_engine *);
    const char *(*strerror)(uc_err);
    uc_err (*reg_read)(uc_engine *, int, void *);
    uc_err (*reg_write)(uc_engine *, int, const void *);
    uc_err (*mem_map_ptr)(uc_engine *, uint64_t, size_t, uint32_t, void *);
    uc_err (*mmio_map)(uc_engine *, uint64_t, size_t, uc_cb_mmio_read_t, void *,
                       uc_cb_mmio_write_t, void *);
    uc_err (*hook_add)(uc_engine *, uc_hook *, int, void *, void *, uint64_t,
                       uint64_t, ...);
    uc_err (*emu_start)(uc_engine *, uint64_t, uint64_t, uint64_t, size_t);
    uc_err (*emu_stop)(uc_engine *);
    uc_err (*ctl)(uc_engine *, uc_control_type, ...);
} real;

/* Each entry: the symbol and where its address goes. */
#define UCDL_SYM(field, name)                                                  \
    {                                                                          \
        name, (void **)&real.field                                             \
    }
static const struct {
    const char *name;
    void **slot;
} symbols[] = {
    UCDL_SYM(open, "uc_open"),
    UCDL_SYM(close, "uc_close"),
    UCDL_SYM(strerror, "uc_strerror"),
    UCDL_SYM(reg_read, "uc_reg_read"),
    UCDL_SYM(reg_write, "uc_reg_write"),
    UCDL_SYM(mem_map_ptr, "uc_mem_map_ptr"),
    UCDL_SYM(mmio_map, "uc_mmio_map"),
    UCDL_SYM(hook_add, "uc_hook_add"),
    UCDL_SYM(emu_start, "uc_emu_start"),
    UCDL_SYM(emu_stop, "uc_emu_stop"),
    UCDL_SYM(ctl, "uc_ctl"),
};

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int load_rc;
static char load_err[256];

static void load(void)
{
    /* RTLD_NOW: a missing symbol shows here, not in a job's child. */
    void *lib = dlopen(UCDL_SONAME, RTLD_NOW | RTLD_LOCAL);

    if (!lib) {
        snprintf(load_err, sizeof(load_err),
                 "the emulator backend needs %s (Debian package libunicorn2; "
                 "make deps installs it): %s",
                 UCDL_SONAME, dlerror());
        load_rc = -ENOENT;
        return;
    }
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        *symbols[i].slot = dlsym(lib, symbols[i].name);
        if (!*symbols[i].slot) {
            snprintf(load_err, sizeof(load_err), "%s has no %s: %s",
                     UCDL_SONAME, symbols[i].name, dlerror());
            load_rc = -ENOENT;
            return;
        }
    }
}

int ucdl_load(char *err, size_t errlen)
{
    pthread_once(&load_once, load);
    if (load_rc && err)
        snprintf(err, errlen, "%s", load_err);
    return load_rc;
}

/* Every other call needs an engine from here, so only this one loads the
 * library itself when nobody did (the parent normally has, before forking:
 * a sandboxed child cannot open files). */
uc_err uc_open(uc_arch arch, uc_mode mode, uc_engine **uc)
{
    if (ucdl_load(NULL, 0) != 0)
        return UC_ERR_ARCH;
    return real.open(arch, mode, uc);
}

uc_err uc_close(uc_engine *uc)
{
    return real.close(uc);
}

const char *uc_strerror(uc_err code)
{
    return real.strerror(code);
}

uc_err uc_reg_read(uc_engine *uc, int regid, void *value)
{
    return real.reg_read(uc, regid, value);
}

uc_err uc_reg_write(uc_engine *uc, int regid, const void *value)
{
    return real.reg_write(uc, regid, value);
}

uc_err uc_mem_map_ptr(uc_engine *uc, uint64_t address, size_t size,
                      uint32_t perms, void *ptr)
{
    return real.mem_map_ptr(uc, address, size, perms, ptr);
}

uc_err uc_mmio_map(uc_engine *uc, uint64_t address, size_t size,
                   uc_cb_mmio_read_t read_cb, void *user_data_read,
                   uc_cb_mmio_write_t write_cb, void *user_data_write)
{
    return real.mmio_map(uc, address, size, read_cb, user_data_read, write_cb,
                         user_data_write);
}

/* Variadic only for UC_HOOK_INSN (the instruction id) and UC_HOOK_TCG_OPCODE
 * (opcode and flags): pass on exactly what the caller gave. */
uc_err uc_hook_add(uc_engine *uc, uc_hook *hh, int type, void *callback,
                   void *user_data, uint64_t begin, uint64_t end, ...)
{
    va_list ap;
    uc_err e;

    va_start(ap, end);
    if (type & UC_HOOK_INSN) {
        int insn = va_arg(ap, int);
        e = real.hook_add(uc, hh, type, callback, user_data, begin, end, insn);
    } else if (type & UC_HOOK_TCG_OPCODE) {
        int opcode = va_arg(ap, int), flags = va_arg(ap, int);
        e = real.hook_add(uc, hh, type, callback, user_data, begin, end, opcode,
                          flags);
    } else {
        e = real.hook_add(uc, hh, type, callback, user_data, begin, end);
    }
    va_end(ap);
    return e;
}

uc_err uc_emu_start(uc_engine *uc, uint64_t begin, uint64_t until,
                    uint64_t timeout, size_t count)
{
    return real.emu_start(uc, begin, until, timeout, count);
}

uc_err uc_emu_stop(uc_engine *uc)
{
    return real.emu_stop(uc);
}

/* Variadic: the arguments depend on the control, so only the controls
 * emu.c uses are passed on; any other is refused with UC_ERR_ARG. */
uc_err uc_ctl(uc_engine *uc, uc_control_type control, ...)
{
    va_list ap;
    uc_err e = UC_ERR_ARG;

    va_start(ap, control);
    if (control == UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2)) {
        uint64_t begin = va_arg(ap, uint64_t), end = va_arg(ap, uint64_t);
        e = real.ctl(uc, control, begin, end);
    }
    va_end(ap);
    return e;
}
