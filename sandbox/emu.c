/*
 * emu.c - the emulator backend. The same guest memory as the KVM backend
 * ([0x1000, MEM) over one host mmap, boot image, code, input) and the same
 * long-mode entry state, in Unicorn 2. The parent builds all of it but the
 * job once per memory size (a template that runs only tincan's SS loader,
 * never guest code); each child adds
 * its job to its copy-on-write copy and runs it. Ports go to
 * the shared guest ABI (abi.c) through instruction hooks; [MEM, 4 GiB) is an
 * MMIO region whose first access ends the job as on KVM. Unicorn does not
 * deliver exceptions through the guest's IDT, so this file turns its
 * interrupt hook and its UC_ERR_* results into the fault reports the KVM
 * backend's exception stubs give, one small function per kind of stop.
 */
#include "emu.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unicorn/unicorn.h>

#include "boot.h"
#include "cpuid.h"
#include "emu_x87.h"
#include "jail.h"
#include "lx.h"
#include "lxframe.h"
#include "x86.h"

#define MSR_EFER       0xC0000080U
#define OP_HLT         0xF4
#define EMU_NO_EXIT    0x8000000000000000ULL /* non-canonical: never a rip */
#define EMU_INSN_MAX   15                    /* longest x86 instruction */
#define IDT_PRESENT    (1ULL << 47)
#define PF_ERR_WRITE   (1ULL << 1)
#define CANONICAL_BITS 47
/* peek_insn and cpu_order */
#define REX_MASK        0xF0
#define REX_BASE        0x40
#define OP_INSB         0x6C
#define OP_INSD         0x6D
#define OP_GRP5         0xFF
#define MODRM_MOD_REG   0xC0 /* mod 3: a register operand */
#define MODRM_REG_SHIFT 3
#define MODRM_REG_MASK  7
#define GRP5_CALLF      3
#define GRP5_JMPF       5
/* load_stack_segment: "mov (abs32), %ss" = 8E /2 with a SIB-only abs32 */
#define OP_MOV_SREG        0x8E
#define MODRM_SS_ABS32     0x14 /* mod 0, reg 2 (SS), rm 4 (SIB) */
#define SIB_ABS32          0x25 /* no base, no index: disp32 */
#define EMU_SS_LOADER_INSN 7    /* the instruction's length */
#define EMU_SS_LOADER_SIZE 16   /* instruction + selector, rounded */
#define EMU_INT_N_LEN      2    /* "int $n" = CD ib */
/* on_syscall: "syscall" = 0F 05, after any prefixes */
#define OP_TWO_BYTE 0x0F
#define OP2_SYSCALL 0x05

static struct emu_vm *vm_of(void *user)
{
    return user;
}

/*
 * An unmapped access that Unicorn went on past (see settle) ends the job
 * there: a later port or MMIO access must not end it first.
 */
static int past_bad_access(struct emu_vm *vm)
{
    if (!vm->have_bad)
        return 0;
    vm->stopped = 1;
    uc_emu_stop(vm->uc);
    return 1;
}

/* Every ABI call that ends the job stops the emulation at once. */
static void after_abi(struct emu_vm *vm, int rc)
{
    vm->guest.rep->exits++;
    if (rc == ABI_END) {
        vm->ended = 1;
        vm->stopped = 1;
        uc_emu_stop(vm->uc);
    }
}

/* A Linux guest's program runs in ring 3: CS's RPL. */
static int in_ring3(struct emu_vm *vm)
{
    uint64_t cs = 0;

    return uc_reg_read(vm->uc, UC_X86_REG_CS, &cs) == UC_ERR_OK &&
           (cs & SEL_RPL3) == SEL_RPL3;
}

/* The CPU's #GP at rip, as if Unicorn had raised it. */
static void raise_gp(struct emu_vm *vm, uint64_t rip)
{
    vm->have_exc = 1;
    vm->exc_vector = X86_EXC_GP;
    vm->exc_rip = rip;
    vm->exc_cr2 = 0;
    vm->stopped = 1;
    uc_emu_stop(vm->uc);
}

/* in and out in ring 3 are #GP on the CPU (IOPL 0, no I/O permission
 * bitmap); Unicorn calls the port hook instead. */
static int user_port(struct emu_vm *vm)
{
    uint64_t rip = 0;

    if (!in_ring3(vm))
        return 0;
    uc_reg_read(vm->uc, UC_X86_REG_RIP, &rip);
    raise_gp(vm, rip);
    return 1;
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value,
                   void *user)
{
    struct emu_vm *vm = vm_of(user);
    uint8_t data[4];

    (void)uc;
    if (past_bad_access(vm) || user_port(vm))
        return;
    for (int i = 0; i < 4; i++)
        data[i] = (uint8_t)(value >> (8 * i));
    after_abi(vm, abi_out(&vm->guest, (uint16_t)port, (unsigned)size, 1, data));
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *user)
{
    struct emu_vm *vm = vm_of(user);

    (void)uc;
    if (past_bad_access(vm) || user_port(vm))
        return 0;
    after_abi(vm, abi_in(&vm->guest, (uint16_t)port, (unsigned)size, 1));
    return 0;
}

static uint64_t on_mmio_read(uc_engine *uc, uint64_t off, unsigned size,
                             void *user)
{
    struct emu_vm *vm = vm_of(user);

    (void)uc;
    if (past_bad_access(vm))
        return 0;
    after_abi(vm, abi_mmio(&vm->guest, vm->guest.mem_size + off, size, 0));
    return 0;
}

static void on_mmio_write(uc_engine *uc, uint64_t off, unsigned size,
                          uint64_t value, void *user)
{
    struct emu_vm *vm = vm_of(user);

    (void)uc;
    if (past_bad_access(vm))
        return;
    (void)value;
    after_abi(vm, abi_mmio(&vm->guest, vm->guest.mem_size + off, size, 1));
}

/* A CPU exception: Unicorn calls this instead of the guest's IDT. */
static void on_intr(uc_engine *uc, uint32_t intno, void *user)
{
    struct emu_vm *vm = vm_of(user);

    vm->have_exc = 1;
    vm->exc_vector = intno;
    uc_reg_read(uc, UC_X86_REG_RIP, &vm->exc_rip);
    uc_reg_read(uc, UC_X86_REG_CR2, &vm->exc_cr2);
    vm->stopped = 1;
    uc_emu_stop(uc);
}

/* The syscall instruction's length at rip: its prefixes and 0F 05. */
static uint64_t syscall_len(struct emu_vm *vm, uint64_t rip)
{
    for (unsigned i = 0; i + 1 < EMU_INSN_MAX; i++) {
        if (!abi_range_ok(&vm->guest, rip + i, 2))
            break;
        if (vm->guest.mem[rip + i] == OP_TWO_BYTE &&
            vm->guest.mem[rip + i + 1] == OP2_SYSCALL)
            return i + 2;
    }
    return 2;
}

/*
 * A syscall instruction. Unicorn only calls this hook (no ring change, no
 * rcx or r11), so it does what the CPU and the KVM stub do together: rcx =
 * the next rip, r11 = rflags, the one handler (lx.c), rax = its answer, and
 * the FS or GS base it set. An SDK guest (EFER.SCE clear) gets the #UD the
 * CPU raises.
 */
static void on_syscall(uc_engine *uc, void *user)
{
    static const int arg_regs[6] = {UC_X86_REG_RDI, UC_X86_REG_RSI,
                                    UC_X86_REG_RDX, UC_X86_REG_R10,
                                    UC_X86_REG_R8,  UC_X86_REG_R9};
    struct emu_vm *vm = vm_of(user);
    struct lx_call in;
    struct lx_ret out;

    if (past_bad_access(vm))
        return;
    memset(&in, 0, sizeof(in));
    uc_reg_read(uc, UC_X86_REG_RIP, &in.rip);
    if (!vm->guest.lx) {
        vm->have_exc = 1;
        vm->exc_vector = X86_EXC_UD;
        vm->exc_rip = in.rip;
        vm->exc_cr2 = 0;
        vm->stopped = 1;
        uc_emu_stop(uc);
        return;
    }
    in.rip += syscall_len(vm, in.rip);
    uc_reg_read(uc, UC_X86_REG_RAX, &in.nr);
    for (unsigned i = 0; i < 6; i++)
        uc_reg_read(uc, arg_regs[i], &in.arg[i]);
    uc_reg_read(uc, UC_X86_REG_RFLAGS, &in.rflags);
    uc_reg_read(uc, UC_X86_REG_RSP, &in.rsp);
    int rc = lx_syscall(&vm->guest, &in, &out);
    after_abi(vm, rc);
    if (rc == ABI_END)
        return;
    uc_reg_write(uc, UC_X86_REG_RAX, &out.rax);
    uc_reg_write(uc, UC_X86_REG_RCX, &in.rip);
    uc_reg_write(uc, UC_X86_REG_R11, &in.rflags);
    if (out.msr == LX_MSR_FS_BASE)
        uc_reg_write(uc, UC_X86_REG_FS_BASE, &out.msr_value);
    else if (out.msr == LX_MSR_GS_BASE)
        uc_reg_write(uc, UC_X86_REG_GS_BASE, &out.msr_value);
}

/* A cpuid instruction: the ABI's table answers (cpuid.c), not Unicorn's CPU
 * model; returning 1 skips Unicorn's own cpuid. */
static int on_cpuid(uc_engine *uc, void *user)
{
    static const int regs[4] = {UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX,
                                UC_X86_REG_RDX};
    uint64_t rax = 0;
    uint32_t r[4];

    (void)user;
    uc_reg_read(uc, UC_X86_REG_RAX, &rax);
    cpuid_lookup(cpuid_table, cpuid_table_len, (uint32_t)rax, r);
    for (unsigned i = 0; i < 4; i++) {
        uint64_t v = r[i]; /* a 32-bit result zero-extends, as on the CPU */
        uc_reg_write(uc, regs[i], &v);
    }
    return 1;
}

/* Each block: the deadline (set by the SIGALRM handler) ends the run. */
static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_vm *vm = vm_of(user);

    (void)size;
    vm->block = addr;
    if (jail_deadline_hit) {
        vm->stopped = 1;
        uc_emu_stop(uc);
    }
}

/* Only with max_insns: called before each instruction executes. */
static void on_code(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_vm *vm = vm_of(user);

    (void)addr;
    (void)size;
    if (vm->insns >= vm->max_insns) {
        vm->insn_limit = 1;
        vm->stopped = 1;
        uc_emu_stop(uc);
        return;
    }
    vm->insns++;
}

/* Hooks on the unbacked ranges exist for their side effect: with any read
 * or write hook Unicorn keeps rip exact at memory accesses. */
static void on_access(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                      int64_t value, void *user)
{
    (void)uc;
    (void)type;
    (void)addr;
    (void)size;
    (void)value;
    (void)user;
}

/* Unicorn found no memory behind an access: keep its address and kind. */
static bool on_unmapped(uc_engine *uc, uc_mem_type type, uint64_t addr,
                        int size, int64_t value, void *user)
{
    struct emu_vm *vm = vm_of(user);

    (void)size;
    (void)value;
    if (vm->have_bad)
        return false; /* the first one counts */
    uc_reg_read(uc, UC_X86_REG_RIP, &vm->bad_rip);
    vm->bad_addr = addr;
    vm->bad_write = type == UC_MEM_WRITE_UNMAPPED;
    vm->have_bad = 1;
    return false;
}

/* For a stub that a guest jumps to itself: the OUT's block is in the stubs. */
static int read_fault_state(void *ctx, uint64_t *rip, uint64_t *rsp,
                            uint64_t *cr2)
{
    struct emu_vm *vm = ctx;

    *rip = vm->block;
    if (uc_reg_read(vm->uc, UC_X86_REG_RSP, rsp) != UC_ERR_OK ||
        uc_reg_read(vm->uc, UC_X86_REG_CR2, cr2) != UC_ERR_OK)
        return -EIO;
    return 0;
}

static int uc_fail(char *err, size_t errlen, const char *step, uc_err e)
{
    snprintf(err, errlen, "%s: %s", step, uc_strerror(e));
    return e == UC_ERR_NOMEM ? -ENOMEM : -EIO;
}

/*
 * Unicorn keeps its reset SS (a 16-bit segment) when SS is written through
 * its API in long mode, and its 32-bit lret and iret then read the stack at
 * rsp & 0xffff. An instruction that loads SS gives it the GDT's descriptor,
 * as KVM has: one "mov (abs32), %ss" run on the top of the fault stack
 * (unused by the emulator). The only code a template ever runs; afterwards
 * the boot image is pristine again (the loader's page walk set accessed
 * bits), the TLB flushed (CR3 written) and the translation dropped.
 */
static int load_stack_segment(struct emu_vm *vm, const uint8_t *boot_image,
                              char *err, size_t errlen)
{
    uint64_t at = TINCAN_FAULT_STACK_TOP - EMU_SS_LOADER_SIZE;
    uint32_t sel_at = (uint32_t)at + EMU_SS_LOADER_INSN;
    uint16_t selector = SEL_DATA;
    uint8_t *p = vm->guest.mem + at;
    uint64_t cr3 = 0;
    uc_err e;

    p[0] = OP_MOV_SREG;
    p[1] = MODRM_SS_ABS32;
    p[2] = SIB_ABS32;
    memcpy(p + 3, &sel_at, sizeof(sel_at));
    memcpy(p + EMU_SS_LOADER_INSN, &selector, sizeof(selector));
    e = uc_emu_start(vm->uc, at, at + EMU_SS_LOADER_INSN, 0, 0);
    memcpy(vm->guest.mem + BOOT_IMAGE_BASE, boot_image, BOOT_IMAGE_SIZE);
    if (e == UC_ERR_OK)
        e = uc_ctl_remove_cache(vm->uc, at, at + EMU_SS_LOADER_SIZE);
    if (e == UC_ERR_OK)
        e = uc_reg_read(vm->uc, UC_X86_REG_CR3, &cr3);
    if (e == UC_ERR_OK)
        e = uc_reg_write(vm->uc, UC_X86_REG_CR3, &cr3);
    if (e != UC_ERR_OK)
        return uc_fail(err, errlen, "loading SS", e);
    return 0;
}

struct reg_write {
    int reg;
    const void *val;
    const char *what;
};

static int write_regs(uc_engine *uc, const struct reg_write *regs, size_t n,
                      char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        uc_err e = uc_reg_write(uc, regs[i].reg, regs[i].val);
        if (e != UC_ERR_OK)
            return uc_fail(err, errlen, regs[i].what, e);
    }
    return 0;
}

/* The machine state every job starts from: descriptor tables, paging, long
 * mode. The job's own registers are set by set_entry_regs(). */
static int set_machine_state(struct emu_vm *vm, uint64_t mem_size, char *err,
                             size_t errlen)
{
    /* Unicorn has no AVX: the guest sees SSE only, as on a CPU without it. */
    struct boot_cpu cpu = {.xsave = 0, .avx = 0};
    struct boot_state st;

    boot_entry_state(&st, mem_size, TINCAN_ENTRY, 0, 0, &cpu);
    uc_x86_mmr gdt = {.base = st.gdt_base, .limit = st.gdt_limit};
    uc_x86_mmr idt = {.base = st.idt_base, .limit = st.idt_limit};
    uc_x86_mmr tr = {
        .selector = st.tr.selector, .base = st.tr.base, .limit = st.tr.limit};
    uc_x86_msr efer = {.rid = MSR_EFER, .value = st.efer};
    const struct reg_write regs[] = {
        {UC_X86_REG_GDTR, &gdt, "uc_reg_write GDTR"},
        {UC_X86_REG_IDTR, &idt, "uc_reg_write IDTR"},
        {UC_X86_REG_TR, &tr, "uc_reg_write TR"},
        {UC_X86_REG_CR3, &st.cr3, "uc_reg_write CR3"},
        {UC_X86_REG_CR4, &st.cr4, "uc_reg_write CR4"},
        {UC_X86_REG_MSR, &efer, "uc_reg_write EFER"},
        {UC_X86_REG_CR0, &st.cr0, "uc_reg_write CR0"},
        {UC_X86_REG_RFLAGS, &st.rflags, "uc_reg_write RFLAGS"},
    };
    return write_regs(vm->uc, regs, sizeof(regs) / sizeof(regs[0]), err,
                      errlen);
}

/* The job's registers at entry: rip, rsp at the top of memory, rdi/rsi. */
static int set_entry_regs(struct emu_vm *vm, const struct sbx_job *job,
                          char *err, size_t errlen)
{
    struct boot_cpu cpu = {.xsave = 0, .avx = 0};
    struct boot_state st;

    if (job->abi == SBX_ABI_LINUX)
        boot_linux_state(&st, job->mem_size, job->entry, job->lx.sp, &cpu);
    else
        boot_entry_state(&st, job->mem_size, job->entry, job->input_addr,
                         job->input_len, &cpu);
    const struct reg_write regs[] = {
        {UC_X86_REG_RSP, &st.rsp, "uc_reg_write RSP"},
        {UC_X86_REG_RDI, &st.rdi, "uc_reg_write RDI"},
        {UC_X86_REG_RSI, &st.rsi, "uc_reg_write RSI"},
        {UC_X86_REG_RBX, &st.rbx, "uc_reg_write RBX"},
        {UC_X86_REG_RIP, &st.rip, "uc_reg_write RIP"},
    };
    return write_regs(vm->uc, regs, sizeof(regs) / sizeof(regs[0]), err,
                      errlen);
}

static int add_hooks(struct emu_vm *vm, char *err, size_t errlen)
{
    uc_engine *uc = vm->uc;
    uc_hook h;
    uc_err e;

    e = uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)on_out, vm, 1, 0,
                    UC_X86_INS_OUT);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)on_in, vm, 1, 0,
                        UC_X86_INS_IN);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)on_syscall, vm, 1, 0,
                        UC_X86_INS_SYSCALL);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)on_cpuid, vm, 1, 0,
                        UC_X86_INS_CPUID);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)on_intr, vm, 1, 0);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_BLOCK, (void *)on_block, vm, 1, 0);
    /* Bounded to the unbacked ranges, whose accesses never complete: any
     * read or write hook makes Unicorn keep rip exact at memory accesses,
     * which the fault reports need. */
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                        (void *)on_access, vm, 0, TINCAN_NULL_PAGE_END - 1);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE,
                        (void *)on_access, vm, TINCAN_MAPPED_END, UINT64_MAX);
    if (e == UC_ERR_OK)
        e = uc_hook_add(uc, &h, UC_HOOK_MEM_UNMAPPED, (void *)on_unmapped, vm,
                        1, 0);
    if (e != UC_ERR_OK)
        return uc_fail(err, errlen, "uc_hook_add", e);
    return 0;
}

/* The engine, its guest memory and everything in them that no job changes:
 * the boot image, the machine state and the hooks. */
static int template_build(struct emu_template *t, const struct sbx_host *h,
                          uint64_t mem_size, unsigned feedback, char *err,
                          size_t errlen)
{
    struct emu_vm *vm = &t->vm;
    uint8_t *mem;
    uc_err e;
    int rc;

    t->mem_size = mem_size;
    mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        rc = -errno;
        snprintf(err, errlen, "mmap of %" PRIu64 " MiB guest memory: %s",
                 mem_size >> 20, strerror(errno));
        return rc;
    }
    t->mem = mem;
    memcpy(mem + BOOT_IMAGE_BASE, h->boot_image, BOOT_IMAGE_SIZE);

    e = uc_open(UC_ARCH_X86, UC_MODE_64, &vm->uc);
    if (e != UC_ERR_OK)
        return uc_fail(err, errlen, "uc_open", e);
    vm->guest.mem = mem;
    vm->guest.mem_size = mem_size;
    vm->guest.cpu.read = read_fault_state;
    vm->guest.cpu.ctx = vm;
    /* Page 0 stays unmapped, as on KVM. */
    e = uc_mem_map_ptr(vm->uc, TINCAN_NULL_PAGE_END,
                       mem_size - TINCAN_NULL_PAGE_END, UC_PROT_ALL,
                       mem + TINCAN_NULL_PAGE_END);
    if (e != UC_ERR_OK)
        return uc_fail(err, errlen, "uc_mem_map_ptr of guest memory", e);
    e = uc_mmio_map(vm->uc, mem_size, TINCAN_MAPPED_END - mem_size,
                    on_mmio_read, vm, on_mmio_write, vm);
    if (e != UC_ERR_OK)
        return uc_fail(err, errlen, "uc_mmio_map of [MEM, 4 GiB)", e);
    rc = set_machine_state(vm, mem_size, err, errlen);
    if (rc == 0)
        rc = load_stack_segment(vm, h->boot_image, err, errlen);
    if (rc == 0)
        rc = add_hooks(vm, err, errlen);
    t->feedback = feedback;
    if (rc == 0 && feedback)
        rc = emu_cov_hook(vm->uc, &vm->cov, feedback, err, errlen);
    return rc;
}

/*
 * Unicorn asks for transparent huge pages for its JIT buffer, so writing
 * its prologue would put a whole 2 MiB page into the template, and into
 * the peak RSS of every child that inherits it (6.8 instead of 8.8 MiB for
 * hello_once). Build with THP off for the process, for these few
 * milliseconds only, unless the process had turned it off itself.
 */
static int template_build_small(struct emu_template *t,
                                const struct sbx_host *h, uint64_t mem_size,
                                unsigned feedback, char *err, size_t errlen)
{
    int was_off = prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1;
    int toggled = !was_off && prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0;
    int rc = template_build(t, h, mem_size, feedback, err, errlen);

    if (toggled)
        prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0);
    return rc;
}

static void template_free(struct emu_template *t)
{
    if (t->vm.uc)
        uc_close(t->vm.uc);
    if (t->mem)
        munmap(t->mem, t->mem_size);
    free(t);
}

/*
 * The cache: the templates of the last EMU_TEMPLATES guest memory sizes.
 * Lookups, builds and frees hold the lock; a job holds a reference from
 * before its fork until after it, so no template is freed under a fork.
 */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_template *cache[EMU_TEMPLATES];
static uint64_t cache_clock;

static struct emu_template *cache_find(uint64_t mem_size, unsigned feedback)
{
    for (unsigned i = 0; i < EMU_TEMPLATES; i++)
        if (cache[i] && cache[i]->mem_size == mem_size &&
            cache[i]->feedback == feedback)
            return cache[i];
    return NULL;
}

/* Keep t in an empty slot, or in place of the least recently used template
 * no job holds; when every slot is held, t is freed by its last put. */
static void cache_insert(struct emu_template *t)
{
    int slot = -1;

    for (unsigned i = 0; i < EMU_TEMPLATES; i++) {
        if (!cache[i]) {
            slot = (int)i;
            break;
        }
        if (cache[i]->refs == 0 &&
            (slot < 0 || cache[i]->last_use < cache[slot]->last_use))
            slot = (int)i;
    }
    if (slot < 0)
        return;
    if (cache[slot])
        template_free(cache[slot]);
    cache[slot] = t;
    t->cached = 1;
}

int emu_template_get(const struct sbx_host *h, uint64_t mem_size,
                     unsigned feedback, struct emu_template **out, int *built,
                     char *err, size_t errlen)
{
    struct emu_template *t;
    int rc = 0;

    *built = 0;
    pthread_mutex_lock(&cache_lock);
    t = cache_find(mem_size, feedback);
    if (!t) {
        t = calloc(1, sizeof(*t));
        if (!t) {
            rc = -ENOMEM;
            snprintf(err, errlen, "allocating an emulator template: %s",
                     strerror(ENOMEM));
            goto out;
        }
        rc = template_build_small(t, h, mem_size, feedback, err, errlen);
        if (rc) {
            template_free(t);
            t = NULL;
            goto out;
        }
        cache_insert(t);
        *built = 1;
    }
    t->refs++;
    t->last_use = ++cache_clock;
out:
    pthread_mutex_unlock(&cache_lock);
    *out = t;
    return rc;
}

void emu_template_put(struct emu_template *t)
{
    pthread_mutex_lock(&cache_lock);
    if (--t->refs == 0 && !t->cached)
        template_free(t);
    pthread_mutex_unlock(&cache_lock);
}

int emu_start(struct emu_template *t, const struct sbx_job *job,
              struct sbx_report *rep, struct emu_vm **out, char *err,
              size_t errlen)
{
    struct emu_vm *vm = &t->vm;
    uint8_t *mem = t->mem;
    uc_hook h;
    uc_err e;

    *out = vm;
    vm->guest.rep = rep;
    vm->guest.guard = job->guard;
    vm->guest.guard_len = job->guard_len;
    vm->max_insns = job->max_insns;
    if (boot_load_job(mem, job, cpuid_hwcap(cpuid_table, cpuid_table_len)) !=
        0) {
        snprintf(err, errlen,
                 "guard pages [0x%" PRIx64 ", +0x%" PRIx64 ") do not fit "
                 "one page table, or AT_HWCAP lies outside the stack",
                 job->guard, job->guard_len);
        return -EINVAL;
    }
    int rc = emu_x87_hook(vm, job, err, errlen);
    if (rc < 0)
        return rc;
    if (vm->max_insns) {
        e = uc_hook_add(vm->uc, &h, UC_HOOK_CODE, (void *)on_code, vm, 1, 0);
        if (e != UC_ERR_OK)
            return uc_fail(err, errlen, "uc_hook_add", e);
    }
    /* The hooks write where the job's region is: the job must have it. */
    if (t->feedback != job->feedback) {
        snprintf(err, errlen,
                 "the machine's feedback hooks (0x%x) are not the job's "
                 "(0x%x)",
                 t->feedback, job->feedback);
        return -EINVAL;
    }
    if (t->feedback)
        emu_cov_start(&vm->cov, job, rep);
    return set_entry_regs(vm, job, err, errlen);
}

static int canonical(uint64_t addr)
{
    int64_t top = (int64_t)addr >> CANONICAL_BITS;

    return top == 0 || top == -1;
}

/*
 * Exceptions are delivered through the guest's IDT on KVM. The emulator
 * reports them directly, but only when the IDT could deliver them: a guest
 * that broke its IDT gets the triple fault KVM would give.
 */
static int gate_usable(struct emu_vm *vm, unsigned vector)
{
    uc_x86_mmr idt;
    uint64_t gate = 0;

    if (uc_reg_read(vm->uc, UC_X86_REG_IDTR, &idt) != UC_ERR_OK)
        return 0;
    if ((uint64_t)vector * IDT_GATE_SIZE + IDT_GATE_SIZE - 1 > idt.limit)
        return 0;
    uint64_t at = idt.base + (uint64_t)vector * IDT_GATE_SIZE;
    if (!abi_range_ok(&vm->guest, at, IDT_GATE_SIZE))
        return 0;
    memcpy(&gate, vm->guest.mem + at, sizeof(gate));
    return !!(gate & IDT_PRESENT);
}

/*
 * The CPU reaches the gate and its handler through the page tables: when
 * the guest's CR3 or a table entry on the way points at nothing (page 0,
 * or outside guest memory), the exception cannot be delivered, and KVM
 * ends in a triple fault. Unicorn reads the IDT physically and would
 * report the exception; this says whether the CPU could deliver it.
 */
static int gate_reachable(struct emu_vm *vm, unsigned vector)
{
    uc_x86_mmr idt;
    uint64_t cr3 = 0, gate[2], at, target;

    if (uc_reg_read(vm->uc, UC_X86_REG_CR3, &cr3) != UC_ERR_OK ||
        uc_reg_read(vm->uc, UC_X86_REG_IDTR, &idt) != UC_ERR_OK)
        return 0;
    if (abi_walk(&vm->guest, cr3, idt.base + (uint64_t)vector * IDT_GATE_SIZE,
                 &at) != ABI_WALK_OK ||
        !abi_range_ok(&vm->guest, at, IDT_GATE_SIZE))
        return 0;
    memcpy(gate, vm->guest.mem + at, sizeof(gate));
    /* offset 15:0 in bits 15:0, 31:16 in bits 63:48, 63:32 in the next word */
    target = (gate[0] & 0xFFFF) | ((gate[0] >> 32) & 0xFFFF0000ULL) |
             (gate[1] << 32);
    return abi_walk(&vm->guest, cr3, target, &at) == ABI_WALK_OK;
}

/* What fault() needs to know of the instruction at rip. */
struct emu_insn {
    uint8_t op, modrm; /* one-byte opcode and the byte after it */
    int opsize16;      /* an 0x66 prefix */
};

static int is_legacy_prefix(uint8_t b)
{
    return b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3 ||
           b == 0x2E || b == 0x36 || b == 0x3E || b == 0x26 || b == 0x64 ||
           b == 0x65;
}

static int peek_insn(struct emu_vm *vm, uint64_t rip, struct emu_insn *in)
{
    uint8_t b[EMU_INSN_MAX + 2];
    unsigned i = 0;

    if (!abi_range_ok(&vm->guest, rip, sizeof(b)))
        return -1;
    memcpy(b, vm->guest.mem + rip, sizeof(b));
    memset(in, 0, sizeof(*in));
    for (; i < EMU_INSN_MAX && is_legacy_prefix(b[i]); i++)
        in->opsize16 |= b[i] == 0x66;
    if ((b[i] & REX_MASK) == REX_BASE)
        i++;
    in->op = b[i];
    in->modrm = b[i + 1];
    return 0;
}

/*
 * Where Unicorn's vector is not the CPU's, for a cause tincan can see:
 * - INS whose store faults: KVM exits for the IN before the store (Unicorn
 *   stores first), and every IN ends the job as unhandled_io.
 * - call far / jmp far through a register (FF /3, FF /5 with mod 3) are
 *   #UD; Unicorn raises #GP.
 */
static int cpu_order(struct emu_vm *vm, unsigned *vector, uint64_t rip)
{
    struct emu_insn in;
    uint64_t rdx = 0;

    if (peek_insn(vm, rip, &in) != 0)
        return ABI_CONTINUE;
    if (*vector == X86_EXC_PF && (in.op == OP_INSB || in.op == OP_INSD)) {
        uc_reg_read(vm->uc, UC_X86_REG_RDX, &rdx);
        return abi_in(&vm->guest, (uint16_t)rdx,
                      in.op == OP_INSB ? 1
                      : in.opsize16    ? 2
                                       : 4,
                      1);
    }
    unsigned reg = (in.modrm >> MODRM_REG_SHIFT) & MODRM_REG_MASK;
    if (*vector == X86_EXC_GP && in.op == OP_GRP5 &&
        in.modrm >= MODRM_MOD_REG && (reg == GRP5_CALLF || reg == GRP5_JMPF))
        *vector = X86_EXC_UD;
    return ABI_CONTINUE;
}

/*
 * int n in ring 3 (a Linux guest) through a gate of DPL 0, which is every
 * gate but #BP's and #OF's: the CPU raises #GP at the int instruction;
 * Unicorn reports vector n after it, without looking at the gate.
 */
static void user_int(struct emu_vm *vm, unsigned *vector, uint64_t *rip)
{
    if (*vector < X86_EXCEPTIONS || !in_ring3(vm))
        return;
    *vector = X86_EXC_GP;
    *rip -= EMU_INT_N_LEN;
}

static int fault(struct emu_vm *vm, unsigned vector, uint64_t error_code,
                 uint64_t rip, uint64_t cr2)
{
    user_int(vm, &vector, &rip);
    if (cpu_order(vm, &vector, rip) == ABI_END)
        return ABI_END;
    if (vector != X86_EXC_PF)
        cr2 = 0;
    if (vector == X86_EXC_UD)
        error_code = 0;
    if (gate_usable(vm, vector) && !gate_reachable(vm, vector)) {
        uint64_t cr3 = 0;
        uc_reg_read(vm->uc, UC_X86_REG_CR3, &cr3);
        return abi_end(&vm->guest, SBX_SHUTDOWN,
                       "triple fault: exception %u cannot be delivered: the "
                       "page tables at CR3 0x%" PRIx64 " do not map the IDT "
                       "gate or its handler",
                       vector, cr3);
    }
    if (!gate_usable(vm, vector))
        return abi_end(&vm->guest, SBX_SHUTDOWN,
                       "triple fault: the guest could not deliver exception "
                       "%u (is its IDT, GDT or stack broken?)",
                       vector);
    return abi_fault_at(&vm->guest, vector, error_code, rip, cr2);
}

/* An access that no page maps: #GP when non-canonical, else #PF. */
static int bad_address(struct emu_vm *vm, uint64_t rip, uint64_t addr,
                       int write)
{
    if (!canonical(addr))
        return fault(vm, X86_EXC_GP, 0, rip, 0);
    return fault(vm, X86_EXC_PF, write ? PF_ERR_WRITE : 0, rip, addr);
}

/* Unicorn reports some not-present pages as unmapped memory, with the
 * address only through the unmapped hook (on_unmapped). */
static int on_unmapped_access(struct emu_vm *vm, uint64_t rip, int write)
{
    if (!vm->have_bad)
        return abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                       "emulator: a %s through an unmapped page at rip "
                       "0x%" PRIx64 " without its address",
                       write ? "write" : "read", rip);
    return bad_address(vm, rip, vm->bad_addr, vm->bad_write);
}

/* A jump to [MEM, 4 GiB) is an MMIO fetch; elsewhere a #PF or #GP. */
static int on_fetch_unmapped(struct emu_vm *vm, uint64_t rip)
{
    if (rip >= vm->guest.mem_size && rip < TINCAN_MAPPED_END)
        return abi_mmio(&vm->guest, rip, 0, 0);
    return bad_address(vm, rip, rip, 0);
}

/* uc_emu_start returned without an error and without a hook's stop. */
static int on_return(struct emu_vm *vm, uint64_t rip)
{
    if (rip > TINCAN_NULL_PAGE_END && abi_range_ok(&vm->guest, rip - 1, 1) &&
        vm->guest.mem[rip - 1] == OP_HLT) {
        /* hlt is privileged: in ring 3 the CPU raises #GP at it */
        if (in_ring3(vm))
            return fault(vm, X86_EXC_GP, 0, rip - 1, 0);
        return abi_halt(&vm->guest);
    }
    return abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                   "emulator stopped at rip 0x%" PRIx64 " for no known reason",
                   rip);
}

static void settle(struct emu_vm *vm, uc_err e)
{
    uint64_t rip = 0;

    uc_reg_read(vm->uc, UC_X86_REG_RIP, &rip);
    if (vm->ended)
        return;
    if (vm->insn_limit) {
        abi_end(&vm->guest, SBX_INSN_LIMIT,
                "instruction limit of %" PRIu64 " reached at rip 0x%" PRIx64,
                vm->max_insns, rip);
        return;
    }
    if (jail_deadline_hit) {
        abi_end(&vm->guest, SBX_TIMEOUT, "deadline reached");
        return;
    }
    if (vm->have_bad && !(vm->have_exc && vm->exc_vector == X86_EXC_PF &&
                          vm->exc_cr2 == vm->bad_addr)) {
        /* Unicorn's x87/SSE state helpers (fnsave, fxsave) go on past an
         * unmapped store, to a later fault, trap or hlt: the CPU faults at
         * the first such access. */
        bad_address(vm, vm->bad_rip, vm->bad_addr, vm->bad_write);
        return;
    }
    if (vm->have_exc) {
        fault(vm, vm->exc_vector, 0, vm->exc_rip, vm->exc_cr2);
        return;
    }
    switch (e) {
    case UC_ERR_OK:
        on_return(vm, rip);
        return;
    case UC_ERR_INSN_INVALID:
        fault(vm, X86_EXC_UD, 0, rip, 0);
        return;
    case UC_ERR_READ_UNMAPPED:
    case UC_ERR_WRITE_UNMAPPED:
        on_unmapped_access(vm, rip, e == UC_ERR_WRITE_UNMAPPED);
        return;
    case UC_ERR_FETCH_UNMAPPED:
    case UC_ERR_FETCH_PROT:
        on_fetch_unmapped(vm, rip);
        return;
    default:
        abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                "emulator stopped at rip 0x%" PRIx64 ": %s", rip,
                uc_strerror(e));
        return;
    }
}

void emu_loop(struct emu_vm *vm)
{
    uint64_t rip = 0;
    uc_err e;

    uc_reg_read(vm->uc, UC_X86_REG_RIP, &rip);
    if (jail_deadline_hit) {
        abi_end(&vm->guest, SBX_TIMEOUT, "deadline reached");
        return;
    }
    /* One run: every stop ends the job (hooks continue the guest). */
    jail_in_emulator = 1;
    e = uc_emu_start(vm->uc, rip, EMU_NO_EXIT, 0, 0);
    jail_in_emulator = 0;
    vm->guest.rep->exits++;
    settle(vm, e);
}
