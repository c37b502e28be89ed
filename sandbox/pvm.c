/*
 * pvm.c - the KVM backend's boot path on kvm_pvm (see pvm.h): the job's
 * code runs in ring 3, where kvm_pvm runs it on the CPU; the ring-3 TSS
 * and its I/O bitmap, exception stubs that keep rax, and the fault handling
 * that makes HLT, INT n and privileged instructions end as in ring 0.
 */
#include "pvm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "boot.h"
#include "lxframe.h"
#include "x86.h"

/* Opcodes (SDM vol. 2) */
#define OP_PUSH_IMM8   0x6A
#define OP_PUSH_RAX    0x50
#define OP_MOV_AL_IMM8 0xB0
#define OP_OUT_IMM8_AL 0xE6
#define OP_HLT         0xF4
#define OP_INT_IMM8    0xCD
#define STUB_SIZE      8

/* The frame a PVM stub leaves: rax, error code, then the CPU's frame. */
#define FRAME_RAX    0
#define FRAME_ERR    1
#define FRAME_RIP    2
#define FRAME_CS     3
#define FRAME_RFLAGS 4
#define FRAME_SS     6
#define FRAME_SLOTS  7
#define SEL_RPL_MASK 3
/* #PF error code bit 0: the page was present (a protection fault) */
#define PF_ERR_PRESENT 0x1
/* #PF error code bit 2: the access came from ring 3 */
#define PF_ERR_USER 0x4
/* RFLAGS.TF: trap (#DB) after the next instruction */
#define RFLAGS_TF (1ULL << 8)

/* The x87 and SSE state Linux gives a new process (lxstub.S's fninit and
 * ldmxcsr): FCW 0x37f, every register empty. */
#define LX_FCW 0x37F

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/*
 * One stub per vector, as boot.c's but keeping rax: [push $0 when the CPU
 * pushes no error code], push %rax, mov $vector, %al, out %al, $0x13, hlt.
 * Eight bytes either way, at the same addresses, so the IDT stays as is.
 */
static void load_stubs(uint8_t *mem)
{
    for (unsigned v = 0; v < IDT_ENTRIES; v++) {
        uint8_t *stub = mem + TINCAN_STUBS_ADDR + (uint64_t)v * STUB_SIZE;
        unsigned n = 0;

        memset(stub, OP_HLT, STUB_SIZE);
        if (!boot_vector_has_error_code(v)) {
            stub[n++] = OP_PUSH_IMM8;
            stub[n++] = 0;
        }
        stub[n++] = OP_PUSH_RAX;
        stub[n++] = OP_MOV_AL_IMM8;
        stub[n++] = (uint8_t)v;
        stub[n++] = OP_OUT_IMM8_AL;
        stub[n++] = TINCAN_PORT_FAULT;
        stub[n++] = OP_HLT;
    }
}

/* pop %rax; add $8, %rsp; iretq: back into the frame the stub left. */
static const uint8_t resume_stub[] = {0x58, 0x48, 0x83, 0xC4, 0x08, 0x48, 0xCF};

/*
 * A Linux guest's syscall lands at LSTAR in ring 3 on kvm_pvm (it does not
 * switch to ring 0): the stub's page and its frame's page become user pages
 * so that it runs there; its privileged instructions are stepped in ring 0.
 */
static void lx_user_pages(uint8_t *mem)
{
    static const uint64_t pages[] = {TINCAN_LX_SYSCALL_ADDR,
                                     TINCAN_LX_FRAME_ADDR};

    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        uint8_t *pte = mem + TINCAN_PT0_ADDR + (pages[i] / PAGE_SIZE) * 8;
        put64(pte, get64(pte) | PTE_US);
    }
}

void pvm_load(uint8_t *mem, const struct sbx_job *job)
{
    uint8_t *tss = mem + PVM_TSS_ADDR;

    if (job->abi == SBX_ABI_LINUX)
        lx_user_pages(mem);

    memset(tss, 0, PVM_TSS_LIMIT + 1); /* zero bitmap: every port passes */
    put64(tss + TSS64_IST1, TINCAN_FAULT_STACK_TOP);
    tss[TSS64_IOMAP_BASE] = TSS64_SIZE & 0xFF;
    tss[TSS64_IOMAP_BASE + 1] = TSS64_SIZE >> 8;
    load_stubs(mem);
    memcpy(mem + PVM_RESUME_ADDR, resume_stub, sizeof(resume_stub));
}

void pvm_advise_memory(uint8_t *mem, const struct sbx_job *job)
{
    uint64_t start = (job->input_addr + PAGE_SIZE_2M - 1) & ~(PAGE_SIZE_2M - 1);
    uint64_t end = (job->input_addr + job->input_len) & ~(PAGE_SIZE_2M - 1);

    /* Advice only: without huge pages the job runs the same, slower. */
    if (job->abi != SBX_ABI_LINUX && end > start)
        (void)madvise(mem + start, end - start, MADV_HUGEPAGE);
}

static void user_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, int l)
{
    memset(s, 0, sizeof(*s));
    s->selector = sel;
    s->limit = 0xFFFFFFFF;
    s->type = type;
    s->present = 1;
    s->dpl = SEL_RPL3;
    s->s = 1;
    s->l = (uint8_t)l;
    s->db = (uint8_t)!l;
    s->g = 1;
}

void pvm_entry_state(const struct sbx_job *job, struct kvm_sregs *sregs,
                     struct kvm_regs *regs)
{
    user_seg(&sregs->cs, SEL_UCODE, SEG_TYPE_CODE_XR, 1);
    user_seg(&sregs->ds, SEL_UDATA, SEG_TYPE_DATA_RW, 0);
    sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
    sregs->tr.base = PVM_TSS_ADDR;
    sregs->tr.limit = PVM_TSS_LIMIT;
    if (job->abi == SBX_ABI_LINUX) {
        /* What lxstub_entry does before its iretq, minus the iretq. */
        sregs->efer |= LX_EFER_SCE;
        regs->rip = regs->rbx;
        regs->rbx = 0;
        regs->rflags = LX_USER_RFLAGS;
    }
}

int pvm_entry_linux(int vcpu, char *err, size_t errlen)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[3];
    } msrs = {.hdr.nmsrs = 3};
    struct kvm_fpu fpu;

    msrs.e[0].index = LX_MSR_STAR;
    msrs.e[0].data = (uint64_t)LX_STAR_HIGH << 32;
    msrs.e[1].index = LX_MSR_LSTAR;
    msrs.e[1].data = TINCAN_LX_SYSCALL_ADDR;
    msrs.e[2].index = LX_MSR_FMASK;
    msrs.e[2].data = LX_FMASK;
    if (ioctl(vcpu, KVM_SET_MSRS, &msrs) != 3) {
        snprintf(err, errlen, "KVM_SET_MSRS (STAR, LSTAR, FMASK): %s",
                 strerror(errno ? errno : EINVAL));
        return -(errno ? errno : EINVAL);
    }
    memset(&fpu, 0, sizeof(fpu));
    fpu.fcw = LX_FCW;
    fpu.mxcsr = LX_MXCSR;
    if (ioctl(vcpu, KVM_SET_FPU, &fpu) < 0) {
        snprintf(err, errlen, "KVM_SET_FPU: %s", strerror(errno));
        return -errno;
    }
    return 0;
}

/* The guest's code bytes at rip, or -1 where there is no guest memory. */
static int code_byte(const struct abi_guest *g, uint64_t rip)
{
    return abi_range_ok(g, rip, 1) ? g->mem[rip] : -1;
}

/*
 * VMCALL (0F 01 C1) and VMMCALL (0F 01 D9): in ring 0 kvm_pvm takes them
 * for its own hypercalls and never comes back to tincan, so they stay the
 * #GP ring 3 raised (guests/ABI.md, "KVM on kvm_pvm").
 */
static int is_hypercall(const struct abi_guest *g, uint64_t rip)
{
    int modrm = code_byte(g, rip + 2);

    return code_byte(g, rip) == 0x0F && code_byte(g, rip + 1) == 0x01 &&
           (modrm == 0xC1 || modrm == 0xD9);
}

/* Point the vCPU at the resume stub, which irets into the frame. */
static int resume(struct abi_guest *g, int vcpu)
{
    struct kvm_regs regs;

    if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
        return abi_end(g, SBX_INTERNAL_ERROR,
                       "KVM_GET_REGS after an exception: %s", strerror(errno));
    regs.rip = PVM_RESUME_ADDR;
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return abi_end(g, SBX_INTERNAL_ERROR,
                       "KVM_SET_REGS to resume the guest: %s", strerror(errno));
    return ABI_CONTINUE;
}

/*
 * Ring 0 would not have faulted here: run this one instruction in ring 0
 * (emulated), with TF set so that it traps right after it, and go back to
 * ring 3 at that #DB (step_done). The stub's own registers are all that
 * changed: rax is in the frame, rip goes to the resume stub.
 */
static int step_in_ring0(struct abi_guest *g, int vcpu, uint8_t *frame,
                         struct pvm_step *step)
{
    uint64_t rflags = get64(frame + 8 * FRAME_RFLAGS);

    step->active = 1;
    step->guest_tf = !!(rflags & RFLAGS_TF);
    put64(frame + 8 * FRAME_CS, SEL_CODE);
    put64(frame + 8 * FRAME_SS, SEL_DATA);
    put64(frame + 8 * FRAME_RFLAGS, rflags | RFLAGS_TF);
    return resume(g, vcpu);
}

/*
 * The #DB after the stepped instruction: back to ring 3. A guest that had
 * TF set itself gets that #DB, after the same instruction as in ring 0.
 */
static int step_done(struct abi_guest *g, int vcpu, uint8_t *frame,
                     struct pvm_step *step)
{
    uint64_t rflags = get64(frame + 8 * FRAME_RFLAGS) & ~RFLAGS_TF;

    step->active = 0;
    if (step->guest_tf)
        return abi_fault_at(g, X86_EXC_DB, 0, get64(frame + 8 * FRAME_RIP), 0);
    put64(frame + 8 * FRAME_CS, SEL_UCODE);
    put64(frame + 8 * FRAME_SS, SEL_UDATA);
    put64(frame + 8 * FRAME_RFLAGS, rflags);
    return resume(g, vcpu);
}

/*
 * SYSCALL with EFER.SCE clear is #UD, but kvm_pvm keeps SCE set: it jumps
 * to LSTAR, 0 for an SDK guest, and the fetch there faults. rcx holds the
 * rip after it: the SYSCALL (0F 05) just before that is the culprit.
 */
static int is_syscall_at_lstar(const struct abi_guest *g, int vcpu,
                               uint64_t frip, uint64_t *syscall_rip)
{
    struct kvm_regs regs;

    if (frip != 0 || ioctl(vcpu, KVM_GET_REGS, &regs) < 0 || regs.rcx < 2)
        return 0;
    *syscall_rip = regs.rcx - 2;
    return code_byte(g, *syscall_rip) == 0x0F &&
           code_byte(g, *syscall_rip + 1) == 0x05;
}

/* INT n at rip in ring 3, which kvm_pvm turns into #UD (or #GP). */
static int on_int_n(struct abi_guest *g, unsigned n, uint64_t rip, uint64_t cr2)
{
    if (g->lx) /* as the CPU: a gate of DPL 0, #GP with the IDT bit */
        return abi_fault_at(g, X86_EXC_GP, (uint64_t)n * 8 + 2, rip, 0);
    /* Ring 0: the gate's stub reports vector n after the instruction; for
     * a vector with an error code the stub takes the CPU's rip for one. */
    if (boot_vector_has_error_code(n))
        return abi_fault_at(g, n, rip + 2, SEL_CODE, cr2);
    return abi_fault_at(g, n, 0, rip + 2, cr2);
}

int pvm_on_fault(struct abi_guest *g, int vcpu, unsigned vector,
                 struct pvm_step *step)
{
    uint64_t rip = 0, rsp = 0, cr2 = 0;
    int err = g->cpu.read(g->cpu.ctx, &rip, &rsp, &cr2);

    if (err)
        return abi_end(g, SBX_INTERNAL_ERROR,
                       "reading the vCPU state of exception %u: %s", vector,
                       strerror(-err));
    /* Only tincan's stubs may speak on the fault port (abi.c says why). */
    if (rip < TINCAN_STUBS_ADDR || rip >= TINCAN_STUBS_END ||
        !abi_range_ok(g, rsp, 8 * FRAME_SLOTS))
        return abi_fault(g, vector);

    uint8_t *frame = g->mem + rsp;
    uint64_t ec = get64(frame + 8 * FRAME_ERR);
    uint64_t frip = get64(frame + 8 * FRAME_RIP);
    int user = (get64(frame + 8 * FRAME_CS) & SEL_RPL_MASK) == SEL_RPL3;
    int op = code_byte(g, frip);

    if (step->active && vector == X86_EXC_DB && !user)
        return step_done(g, vcpu, frame, step);
    step->active = 0; /* the stepped instruction faulted: it ends the job */

    if (user && (vector == X86_EXC_UD || vector == X86_EXC_GP) &&
        op == OP_INT_IMM8 && code_byte(g, frip + 1) >= 0)
        return on_int_n(g, (unsigned)code_byte(g, frip + 1), frip, cr2);
    if (user && g->lx && vector == X86_EXC_GP && frip >= TINCAN_LX_ENTRY_ADDR &&
        frip < TINCAN_LX_STUBS_END)
        return step_in_ring0(g, vcpu, frame, step);
    if (user && !g->lx) {
        uint64_t at;

        if (vector == X86_EXC_PF && is_syscall_at_lstar(g, vcpu, frip, &at))
            return abi_fault_at(g, X86_EXC_UD, 0, at, 0);
        if (vector == X86_EXC_GP && op == OP_HLT)
            return abi_halt(g);
        if ((vector == X86_EXC_GP && !is_hypercall(g, frip)) ||
            vector == X86_EXC_AC ||
            (vector == X86_EXC_PF && (ec & PF_ERR_PRESENT)))
            return step_in_ring0(g, vcpu, frame, step);
        if (vector == X86_EXC_PF) /* what ring 0 reports: no user bit */
            ec &= ~(uint64_t)PF_ERR_USER;
    }
    return abi_fault_at(g, vector, ec, frip, cr2);
}
