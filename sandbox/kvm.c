/*
 * kvm.c - the KVM backend. The parent probes /dev/kvm once; each child builds
 * a fresh VM (no in-kernel irqchip, so HLT exits to us), loads the boot image,
 * code and input, and runs the exit loop: one small function per exit
 * reason, each ending in the shared guest ABI (abi.c).
 */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"
#include "cpuid.h"
#include "jail.h"
#include "pvm.h"
#include "x86.h"

#define KVM_DEVICE            "/dev/kvm"
#define KVM_MAX_CPUID_ENTRIES 256
#define MEM_SLOT_GUEST        0
#define MEM_SLOT_ZERO_PAGE    1 /* page 0: zeros, see kvm_build */
/* npf_address: KVM's emulation-failure data, in 64-bit words */
#define EMU_FAIL_FLAGS_WORDS    1  /* data[0]: flags */
#define EMU_FAIL_INSN_WORDS     2  /* insn_size + insn_bytes[15] */
#define EMU_FAIL_INFO_WORDS     3  /* exit reason, info1, info2 */
#define KVM_INTERNAL_DATA_WORDS 16 /* kvm_run.internal.data[] */
#define SVM_EXIT_NPF            0x400
#define NPF_ERR_WRITE           (1ULL << 1)

static int set_kvm_error(struct sbx_host *h, const char *step)
{
    snprintf(h->kvm_error, sizeof(h->kvm_error), "%s: %s", step,
             strerror(errno));
    return -errno;
}

#define CPUINFO_FLAGS_KEY                                                      \
    "flags" /* x86 /proc/cpuinfo: the CPUID feature words */
#define PVM_MODULE "kvm_pvm"

static const char *const kind_names[KVM_KIND_COUNT] = {
    [KVM_KIND_NONE] = "none",
    [KVM_KIND_HW] = "hardware",
    [KVM_KIND_PVM] = "pvm",
    [KVM_KIND_SOFTWARE] = "software",
};

/* 1 when the first "flags" line of cpuinfo names vmx (Intel VT-x) or svm
 * (AMD-V) as a word. */
static int cpu_has_virt(const char *cpuinfo_path)
{
    FILE *f = fopen(cpuinfo_path, "re");
    char *line = NULL, *save = NULL;
    size_t cap = 0;
    int found = 0;

    if (!f)
        return 0;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, CPUINFO_FLAGS_KEY, strlen(CPUINFO_FLAGS_KEY)) != 0)
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        for (char *w = strtok_r(colon + 1, " \t\n", &save); w;
             w = strtok_r(NULL, " \t\n", &save))
            if (!strcmp(w, "vmx") || !strcmp(w, "svm"))
                found = 1;
        break;
    }
    free(line);
    fclose(f);
    return found;
}

enum kvm_kind kvm_host_kind(const char *cpuinfo_path,
                            const char *sysmodule_path)
{
    char path[512];
    struct stat st;

    snprintf(path, sizeof(path), "%s/" PVM_MODULE, sysmodule_path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return KVM_KIND_PVM;
    return cpu_has_virt(cpuinfo_path) ? KVM_KIND_HW : KVM_KIND_SOFTWARE;
}

const char *kvm_kind_name(enum kvm_kind kind)
{
    return (unsigned)kind < KVM_KIND_COUNT ? kind_names[kind] : "unknown";
}

enum kvm_kind kvm_kind_named(const char *name)
{
    for (unsigned k = 0; name && k < KVM_KIND_COUNT; k++)
        if (!strcmp(name, kind_names[k]))
            return (enum kvm_kind)k;
    return KVM_KIND_COUNT;
}

int kvm_kind_runs_abi(enum kvm_kind kind)
{
    return kind == KVM_KIND_HW || kind == KVM_KIND_PVM;
}

int kvm_kind_for_auto(enum kvm_kind kind)
{
    return kind == KVM_KIND_HW;
}

const char *kvm_kind_why(enum kvm_kind kind)
{
    switch (kind) {
    case KVM_KIND_HW:
        return "hardware virtualisation (vmx/svm)";
    case KVM_KIND_PVM:
        return "kvm_pvm, a software KVM (no vmx/svm), on which tincan runs "
               "jobs in ring 3";
    case KVM_KIND_SOFTWARE:
        return "a KVM without vmx/svm in the CPU flags, which cannot run "
               "tincan's guests";
    case KVM_KIND_NONE:
        return "/dev/kvm did not open";
    case KVM_KIND_COUNT:
        break;
    }
    return "an unknown kind of KVM";
}

int kvm_open(char *err, size_t errlen)
{
    int fd, rc;

    fd = open(KVM_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        rc = -errno;
        snprintf(err, errlen, "cannot open " KVM_DEVICE ": %s",
                 strerror(errno));
        return rc;
    }
    rc = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (rc != KVM_API_VERSION) {
        snprintf(err, errlen, KVM_DEVICE " speaks KVM API %d, tincan needs %d",
                 rc, KVM_API_VERSION);
        close(fd);
        return -ENOTSUP;
    }
    return fd;
}

void kvm_probe_fd(struct sbx_host *h, int fd)
{
    struct kvm_cpuid2 *cpuid = NULL;
    void *guest;

    h->kvm_fd = -1;
    if (fd < 0) {
        snprintf(h->kvm_error, sizeof(h->kvm_error), "%s",
                 "no /dev/kvm was handed to the zygote");
        return;
    }
    h->vcpu_mmap_size = ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (h->vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
        set_kvm_error(h, "KVM_GET_VCPU_MMAP_SIZE");
        goto fail;
    }
    cpuid = calloc(1, sizeof(*cpuid) + KVM_MAX_CPUID_ENTRIES *
                                           sizeof(struct kvm_cpuid_entry2));
    if (!cpuid) {
        set_kvm_error(h, "allocating the CPUID table");
        goto fail;
    }
    cpuid->nent = KVM_MAX_CPUID_ENTRIES;
    if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
        set_kvm_error(h, "KVM_GET_SUPPORTED_CPUID");
        goto fail;
    }
    /* The guest sees the ABI's CPUID (cpuid.c), not the host's. */
    if (cpuid_for_kvm(cpuid, &guest) != 0) {
        errno = ENOMEM;
        set_kvm_error(h, "allocating the guest's CPUID table");
        goto fail;
    }
    free(cpuid);
    cpuid = guest;
    for (uint32_t i = 0; i < cpuid->nent; i++) {
        struct kvm_cpuid_entry2 *e = &cpuid->entries[i];
        if (e->function != CPUID_LEAF_FEATURES)
            continue;
        h->cpu_xsave = !!(e->ecx & CPUID_1_ECX_XSAVE) &&
                       ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0;
        h->cpu_avx = !!(e->ecx & CPUID_1_ECX_AVX);
    }
    h->cpuid = cpuid;
    h->kvm_fd = fd;
    h->pvm = h->kvm_kind == KVM_KIND_PVM; /* the runner's kvm_host_kind() */
    return;
fail:
    free(cpuid);
    close(fd);
}

void kvm_release(struct sbx_host *h)
{
    if (h->kvm_fd >= 0)
        close(h->kvm_fd);
    h->kvm_fd = -1;
    free(h->cpuid);
    h->cpuid = NULL;
}

uint32_t kvm_hwcap(const struct sbx_host *h)
{
    const struct kvm_cpuid2 *cpuid = h->cpuid;

    for (uint32_t i = 0; cpuid && i < cpuid->nent; i++)
        if (cpuid->entries[i].function == CPUID_LEAF_FEATURES)
            return cpuid->entries[i].edx;
    return 0;
}

static void set_seg(struct kvm_segment *k, const struct boot_segment *b)
{
    memset(k, 0, sizeof(*k));
    k->base = b->base;
    k->limit = b->s ? 0xFFFFFFFF : b->limit; /* byte limit as loaded */
    k->selector = b->selector;
    k->type = b->type;
    k->present = b->present;
    k->dpl = b->dpl;
    k->db = b->db;
    k->s = b->s;
    k->l = b->l;
    k->g = b->g;
}

static int step_fail(char *err, size_t errlen, const char *step)
{
    int e = errno;

    snprintf(err, errlen, "%s: %s", step, strerror(e));
    return -e;
}

static int set_cpu_state(const struct sbx_host *h, const struct sbx_job *job,
                         int vcpu, char *err, size_t errlen)
{
    struct boot_cpu cpu = {.xsave = h->cpu_xsave, .avx = h->cpu_avx};
    struct boot_state st;
    struct kvm_sregs sregs;
    struct kvm_regs regs;

    if (job->abi == SBX_ABI_LINUX)
        boot_linux_state(&st, job->mem_size, job->entry, job->lx.sp, &cpu);
    else
        boot_entry_state(&st, job->mem_size, job->entry, job->input_addr,
                         job->input_len, &cpu);
    if (ioctl(vcpu, KVM_SET_CPUID2, h->cpuid) < 0)
        return step_fail(err, errlen, "KVM_SET_CPUID2");
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return step_fail(err, errlen, "KVM_GET_SREGS");
    sregs.cr0 = st.cr0;
    sregs.cr3 = st.cr3;
    sregs.cr4 = st.cr4;
    sregs.efer = st.efer;
    set_seg(&sregs.cs, &st.cs);
    set_seg(&sregs.ds, &st.ds);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    set_seg(&sregs.tr, &st.tr);
    memset(&sregs.ldt, 0, sizeof(sregs.ldt));
    sregs.ldt.type = SEG_TYPE_LDT;
    sregs.ldt.unusable = 1;
    sregs.gdt.base = st.gdt_base;
    sregs.gdt.limit = st.gdt_limit;
    sregs.idt.base = st.idt_base;
    sregs.idt.limit = st.idt_limit;
    /* No local APIC (IA32_APIC_BASE.EN clear): there is none in the guest,
     * and KVM shows CPUID.1:EDX.APIC from this bit, which the ABI's CPUID
     * leaves clear (cpuid.c). */
    sregs.apic_base = 0;
    memset(&regs, 0, sizeof(regs));
    regs.rip = st.rip;
    regs.rsp = st.rsp;
    regs.rdi = st.rdi;
    regs.rsi = st.rsi;
    regs.rbx = st.rbx;
    regs.rflags = st.rflags;
    if (h->pvm)
        pvm_entry_state(job, &sregs, &regs);
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return step_fail(err, errlen, "KVM_SET_SREGS");
    if (h->cpu_xsave) {
        struct kvm_xcrs xcrs = {.nr_xcrs = 1};
        xcrs.xcrs[0].xcr = 0;
        xcrs.xcrs[0].value = st.xcr0;
        if (ioctl(vcpu, KVM_SET_XCRS, &xcrs) < 0)
            return step_fail(err, errlen, "KVM_SET_XCRS");
    }
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return step_fail(err, errlen, "KVM_SET_REGS");
    if (h->pvm && job->abi == SBX_ABI_LINUX)
        return pvm_entry_linux(vcpu, err, errlen);
    return 0;
}

static int read_fault_state(void *ctx, uint64_t *rip, uint64_t *rsp,
                            uint64_t *cr2)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;

    (void)ctx;
    if (ioctl(SBX_VCPU_FD, KVM_GET_REGS, &regs) < 0 ||
        ioctl(SBX_VCPU_FD, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    *rip = regs.rip;
    *rsp = regs.rsp;
    *cr2 = sregs.cr2;
    return 0;
}

int kvm_build(const struct sbx_host *h, const struct sbx_job *job,
              struct sbx_report *rep, struct kvm_vm *vm, char *err,
              size_t errlen)
{
    int vmfd = -1, vcpu = -1, rc;
    uint8_t *mem;
    void *zero;

    memset(vm, 0, sizeof(*vm));
    vmfd = ioctl(h->kvm_fd, KVM_CREATE_VM, 0);
    if (vmfd < 0)
        return step_fail(err, errlen, "KVM_CREATE_VM");

    /* Lazily backed: only pages the job touches cost memory. */
    mem = mmap(NULL, job->mem_size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        char step[80];
        snprintf(step, sizeof(step), "mmap of %" PRIu64 " MiB guest memory",
                 job->mem_size >> 20);
        rc = step_fail(err, errlen, step);
        goto out;
    }
    if (h->pvm)
        pvm_advise_memory(mem, job);
    memcpy(mem + BOOT_IMAGE_BASE, h->boot_image, BOOT_IMAGE_SIZE);
    if (boot_load_job(mem, job, kvm_hwcap(h)) != 0) {
        snprintf(err, errlen,
                 "guard pages [0x%" PRIx64 ", +0x%" PRIx64 ") do not fit "
                 "one page table, or AT_HWCAP lies outside the stack",
                 job->guard, job->guard_len);
        rc = -EINVAL;
        goto out;
    }
    if (h->pvm)
        pvm_load(mem, job);

    /* Page 0 stays outside the slot: nothing backs a null dereference. */
    struct kvm_userspace_memory_region region = {
        .slot = MEM_SLOT_GUEST,
        .guest_phys_addr = TINCAN_NULL_PAGE_END,
        .memory_size = job->mem_size - TINCAN_NULL_PAGE_END,
        .userspace_addr = (uint64_t)(uintptr_t)(mem + TINCAN_NULL_PAGE_END),
    };
    if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        rc = step_fail(err, errlen, "KVM_SET_USER_MEMORY_REGION");
        goto out;
    }
    /* Page 0 is not in the guest's page tables, but a guest that points
     * CR3 or a table entry there makes the CPU walk it: with nothing
     * behind it KVM retries the walk until the deadline. Zeros make every
     * entry there not present, so the walk faults at once (as on the
     * emulator). Writable, not KVM_MEM_READONLY: AMD's nested paging
     * checks every guest page-table access as a write. */
    zero = mmap(NULL, TINCAN_NULL_PAGE_END, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (zero == MAP_FAILED) {
        rc = step_fail(err, errlen, "mmap of the zero page");
        goto out;
    }
    struct kvm_userspace_memory_region zero_region = {
        .slot = MEM_SLOT_ZERO_PAGE,
        .guest_phys_addr = 0,
        .memory_size = TINCAN_NULL_PAGE_END,
        .userspace_addr = (uint64_t)(uintptr_t)zero,
    };
    if (ioctl(vmfd, KVM_SET_USER_MEMORY_REGION, &zero_region) < 0) {
        rc = step_fail(err, errlen, "KVM_SET_USER_MEMORY_REGION (zero page)");
        goto out;
    }
    vcpu = ioctl(vmfd, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) {
        rc = step_fail(err, errlen, "KVM_CREATE_VCPU");
        goto out;
    }
    vm->run = mmap(NULL, (size_t)h->vcpu_mmap_size, PROT_READ | PROT_WRITE,
                   MAP_SHARED, vcpu, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        rc = step_fail(err, errlen, "mmap of the vCPU run area");
        goto out;
    }
    vm->run_size = (size_t)h->vcpu_mmap_size;
    rc = set_cpu_state(h, job, vcpu, err, errlen);
    if (rc)
        goto out;

    /* The vCPU keeps the VM alive; the run loop needs nothing else. */
    close(h->kvm_fd);
    close(vmfd);
    vmfd = -1;
    if (vcpu != SBX_VCPU_FD) {
        if (dup2(vcpu, SBX_VCPU_FD) < 0) {
            rc = step_fail(err, errlen, "dup2 of the vCPU fd");
            goto out;
        }
        close(vcpu);
    }
    vcpu = -1;
    vm->guest.mem = mem;
    vm->guest.mem_size = job->mem_size;
    vm->guest.rep = rep;
    vm->guest.cpu.read = read_fault_state;
    vm->guest.guard = job->guard;
    vm->guest.guard_len = job->guard_len;
    vm->pvm = h->pvm;
    jail_immediate_exit = &vm->run->immediate_exit;
    if (jail_deadline_hit)
        vm->run->immediate_exit = 1;
    return 0;
out:
    if (vcpu >= 0)
        close(vcpu);
    if (vmfd >= 0)
        close(vmfd);
    return rc;
}

/* KVM_EXIT_IO: data sits inside the run area; check it before reading. */
static int on_io(struct kvm_vm *vm)
{
    struct kvm_run *run = vm->run;
    unsigned size = run->io.size;
    uint64_t bytes = (uint64_t)size * run->io.count;

    if ((size != 1 && size != 2 && size != 4) || run->io.count == 0 ||
        run->io.data_offset > vm->run_size ||
        bytes > vm->run_size - run->io.data_offset)
        return abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                       "KVM reported an I/O exit with size %u, count %u at "
                       "offset %" PRIu64 " outside the run area",
                       size, run->io.count, (uint64_t)run->io.data_offset);
    if (run->io.direction == KVM_EXIT_IO_IN)
        return abi_in(&vm->guest, run->io.port, size, run->io.count);
    if (vm->pvm && run->io.port == TINCAN_PORT_FAULT)
        return pvm_on_fault(&vm->guest, SBX_VCPU_FD,
                            *((const uint8_t *)run + run->io.data_offset),
                            &vm->pvm_step);
    return abi_out(&vm->guest, run->io.port, size, run->io.count,
                   (const uint8_t *)run + run->io.data_offset);
}

static int on_mmio(struct kvm_vm *vm)
{
    return abi_mmio(&vm->guest, vm->run->mmio.phys_addr, vm->run->mmio.len,
                    vm->run->mmio.is_write);
}

/*
 * A guest whose page tables point outside guest memory (CR3, or an entry
 * on the way to rip, at [MEM, 4 GiB) or above): hardware KVM retries the
 * walk forever without an exit, so it is found at a CPU-time probe
 * (jail.h) or at the deadline; kvm_pvm's shadow paging makes it a triple
 * fault at once. when says which, for the message. Either way the status
 * is the emulator's: the table read in [MEM, 4 GiB) is mmio, one further
 * out a triple fault. Returns ABI_CONTINUE when that is not it.
 */
static int on_stuck_walk(struct kvm_vm *vm, const char *when)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs;
    uint64_t at;

    if (ioctl(SBX_VCPU_FD, KVM_GET_SREGS, &sregs) < 0 ||
        ioctl(SBX_VCPU_FD, KVM_GET_REGS, &regs) < 0 ||
        abi_walk(&vm->guest, sregs.cr3, regs.rip, &at) != ABI_WALK_OUTSIDE)
        return ABI_CONTINUE;
    if (at >= vm->guest.mem_size && at < TINCAN_MAPPED_END)
        return abi_mmio_unsized(&vm->guest, at, 0);
    return abi_end(&vm->guest, SBX_SHUTDOWN,
                   "the page tables at CR3 0x%llx point outside guest "
                   "memory (an entry at 0x%" PRIx64 "): the CPU cannot "
                   "fetch at rip 0x%llx (found %s)",
                   (unsigned long long)sregs.cr3, at,
                   (unsigned long long)regs.rip, when);
}

static int on_shutdown(struct kvm_vm *vm)
{
    if (vm->pvm && on_stuck_walk(vm, "at a triple fault") == ABI_END)
        return ABI_END;
    return abi_end(&vm->guest, SBX_SHUTDOWN,
                   "triple fault: the guest could not deliver an exception "
                   "(is its IDT, GDT or stack broken?)");
}

static int on_fail_entry(struct kvm_vm *vm)
{
    return abi_end(
        &vm->guest, SBX_INTERNAL_ERROR,
        "KVM_RUN: VM entry failed, hardware reason 0x%llx",
        (unsigned long long)vm->run->fail_entry.hardware_entry_failure_reason);
}

/*
 * The guest-physical address of a nested page fault that KVM could not
 * emulate, from the exit information KVM appends to an emulation failure
 * (after the flags and, when flagged, the instruction bytes): exit reason,
 * info1, info2. On AMD an NPF exit has the fault's error code in info1 and
 * the address in info2. The layout is KVM's debug data, not ABI: anything
 * else (Intel, another layout) returns -1.
 */
static int npf_address(const struct kvm_run *run, uint64_t *gpa, int *write)
{
    uint32_t ndata = run->emulation_failure.ndata;
    unsigned at = EMU_FAIL_FLAGS_WORDS;

    if (ndata < EMU_FAIL_FLAGS_WORDS || ndata > KVM_INTERNAL_DATA_WORDS)
        return -1;
    if (run->emulation_failure.flags &
        KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)
        at += EMU_FAIL_INSN_WORDS;
    if (ndata < at + EMU_FAIL_INFO_WORDS ||
        run->internal.data[at] != SVM_EXIT_NPF)
        return -1;
    *write = !!(run->internal.data[at + 1] & NPF_ERR_WRITE);
    *gpa = run->internal.data[at + 2];
    return 0;
}

/*
 * KVM could not emulate an instruction: most often a fetch from an address
 * with no memory behind it (a jump outside guest memory), or an access
 * there by an instruction KVM's emulator lacks (x87 stores, iret). Report
 * that as the MMIO access it is; anything else is KVM's internal error.
 */
static int on_internal_error(struct kvm_vm *vm)
{
    struct kvm_regs regs;
    uint32_t sub = vm->run->internal.suberror;
    uint64_t gpa;
    int write;

    if (sub == KVM_INTERNAL_ERROR_EMULATION &&
        ioctl(SBX_VCPU_FD, KVM_GET_REGS, &regs) == 0) {
        if (!abi_range_ok(&vm->guest, regs.rip, 1))
            return abi_mmio(&vm->guest, regs.rip, 0, 0);
        if (npf_address(vm->run, &gpa, &write) == 0 &&
            gpa >= vm->guest.mem_size && gpa < TINCAN_MAPPED_END)
            return abi_mmio_unsized(&vm->guest, gpa, write);
        return abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                       "KVM could not emulate the instruction at rip "
                       "0x%llx (internal error, suberror %u)",
                       (unsigned long long)regs.rip, sub);
    }
    return abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                   "KVM internal error, suberror %u", sub);
}

static int on_system_event(struct kvm_vm *vm)
{
    return abi_end(&vm->guest, SBX_SHUTDOWN, "system event %u (reset)",
                   vm->run->system_event.type);
}

static int on_unexpected(struct kvm_vm *vm, const char *what)
{
    return abi_end(&vm->guest, SBX_INTERNAL_ERROR,
                   "unexpected KVM exit %u (%s)", vm->run->exit_reason, what);
}

static int handle_exit(struct kvm_vm *vm)
{
    switch (vm->run->exit_reason) {
    case KVM_EXIT_IO:
        return on_io(vm);
    case KVM_EXIT_HLT:
        return abi_halt(&vm->guest);
    case KVM_EXIT_MMIO:
        return on_mmio(vm);
    case KVM_EXIT_SHUTDOWN:
        return on_shutdown(vm);
    case KVM_EXIT_FAIL_ENTRY:
        return on_fail_entry(vm);
    case KVM_EXIT_INTERNAL_ERROR:
        return on_internal_error(vm);
    case KVM_EXIT_SYSTEM_EVENT:
        return on_system_event(vm);
    case KVM_EXIT_INTR:
        return ABI_CONTINUE; /* a signal; the loop checks the deadline */
    case KVM_EXIT_UNKNOWN:
        return on_unexpected(vm, "unknown");
    case KVM_EXIT_EXCEPTION:
        return on_unexpected(vm, "exception");
    case KVM_EXIT_DEBUG:
        return on_unexpected(vm, "debug");
    case KVM_EXIT_IRQ_WINDOW_OPEN:
        return on_unexpected(vm, "irq window");
    case KVM_EXIT_HYPERCALL:
        return on_unexpected(vm, "hypercall");
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR:
        return on_unexpected(vm, "MSR access");
    default:
        return on_unexpected(vm, "not known to tincan");
    }
}

#define STRINGIFY_(x) #x
#define STRINGIFY(x)  STRINGIFY_(x)
/* on_stuck_walk()'s "found ..." at a CPU-time probe (jail.h) */
#define PROBE_WHEN "after " STRINGIFY(JAIL_PROBE_CPU_MS) " ms of CPU time"

void kvm_loop(struct kvm_vm *vm)
{
    struct sbx_report *rep = vm->guest.rep;

    for (;;) {
        int rc = ioctl(SBX_VCPU_FD, KVM_RUN, 0);
        /* A probe's stop is tincan's, not the guest's: not counted. */
        if (!(rc < 0 && errno == EINTR && jail_probe_hit))
            rep->exits++;
        if (rc < 0 && errno != EINTR && errno != EAGAIN) {
            abi_end(&vm->guest, SBX_INTERNAL_ERROR, "KVM_RUN: %s",
                    strerror(errno));
            return;
        }
        if (rc == 0 && handle_exit(vm) == ABI_END)
            return;
        if (jail_probe_hit && !jail_deadline_hit) {
            jail_probe_hit = 0;
            vm->run->immediate_exit = 0;
            if (on_stuck_walk(vm, PROBE_WHEN) == ABI_END)
                return;
        }
        if (jail_deadline_hit) {
            if (on_stuck_walk(vm, "at the deadline") == ABI_CONTINUE)
                abi_end(&vm->guest, SBX_TIMEOUT, "deadline reached");
            return;
        }
    }
}
