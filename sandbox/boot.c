/*
 * boot.c - builds the guest's initial tables and entry state (see boot.h and
 * guests/ABI.md for the memory map).
 */
#include "boot.h"

#include <string.h>

#include "lxframe.h"
#include "x86.h"

_Static_assert(LX_USER_CS == SEL_UCODE && LX_USER_SS == SEL_UDATA,
               "lxstub.S's selectors are the GDT's");

/* Opcodes of the exception stubs (SDM vol. 2). */
#define OP_PUSH_IMM8   0x6A
#define OP_MOV_AL_IMM8 0xB0
#define OP_OUT_IMM8_AL 0xE6
#define OP_HLT         0xF4
#define OP_NOP         0x90
#define STUB_SIZE      8

static uint8_t *at(uint8_t *img, uint64_t gpa)
{
    return img + (gpa - BOOT_IMAGE_BASE);
}

static void put64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, sizeof(v)); /* x86 is little-endian, like the guest */
}

/* A code or data segment descriptor (SDM 3.4.5, figure 3-8). */
static uint64_t seg_desc(const struct boot_segment *s)
{
    uint64_t d = 0;
    d |= (uint64_t)(s->limit & 0xFFFF);
    d |= (uint64_t)(s->base & 0xFFFFFF) << 16;
    d |= (uint64_t)(s->type & 0xF) << 40;
    d |= (uint64_t)(s->s & 1) << 44;
    d |= (uint64_t)(s->dpl & 3) << 45;
    d |= (uint64_t)(s->present & 1) << 47;
    d |= (uint64_t)((s->limit >> 16) & 0xF) << 48;
    d |= (uint64_t)(s->l & 1) << 53;
    d |= (uint64_t)(s->db & 1) << 54;
    d |= (uint64_t)(s->g & 1) << 55;
    d |= (uint64_t)((s->base >> 24) & 0xFF) << 56;
    return d;
}

static const struct boot_segment seg_code = {
    .base = 0,
    .limit = 0xFFFFF,
    .selector = SEL_CODE,
    .type = SEG_TYPE_CODE_XR,
    .present = 1,
    .dpl = 0,
    .db = 0,
    .s = 1,
    .l = 1,
    .g = 1,
};

static const struct boot_segment seg_data = {
    .base = 0,
    .limit = 0xFFFFF,
    .selector = SEL_DATA,
    .type = SEG_TYPE_DATA_RW,
    .present = 1,
    .dpl = 0,
    .db = 1,
    .s = 1,
    .l = 0,
    .g = 1,
};

static const struct boot_segment seg_tss = {
    .base = TINCAN_TSS_ADDR,
    .limit = TSS64_SIZE - 1,
    .selector = SEL_TSS,
    .type = SEG_TYPE_TSS64_BUSY,
    .present = 1,
    .dpl = 0,
    .db = 0,
    .s = 0,
    .l = 0,
    .g = 0,
};

/* Ring 3: what sysretq loads for Linux guests, as descriptors too (an
 * iretq or a segment load in the program reads these). */
static const struct boot_segment seg_ucode = {
    .base = 0,
    .limit = 0xFFFFF,
    .selector = SEL_UCODE,
    .type = SEG_TYPE_CODE_XR,
    .present = 1,
    .dpl = 3,
    .db = 0,
    .s = 1,
    .l = 1,
    .g = 1,
};

static const struct boot_segment seg_udata = {
    .base = 0,
    .limit = 0xFFFFF,
    .selector = SEL_UDATA,
    .type = SEG_TYPE_DATA_RW,
    .present = 1,
    .dpl = 3,
    .db = 1,
    .s = 1,
    .l = 0,
    .g = 1,
};

static void build_gdt(uint8_t *img)
{
    uint8_t *gdt = at(img, TINCAN_GDT_ADDR);

    put64(gdt + GDT_NULL * 8, 0);
    put64(gdt + GDT_CODE * 8, seg_desc(&seg_code));
    put64(gdt + GDT_DATA * 8, seg_desc(&seg_data));
    /* 16-byte system descriptor: the upper half holds base[63:32] */
    put64(gdt + GDT_TSS * 8, seg_desc(&seg_tss));
    put64(gdt + GDT_TSS * 8 + 8, seg_tss.base >> 32);
    put64(gdt + GDT_UDATA * 8, seg_desc(&seg_udata));
    put64(gdt + GDT_UCODE * 8, seg_desc(&seg_ucode));

    uint8_t *tss = at(img, TINCAN_TSS_ADDR);
    put64(tss + TSS64_IST1, TINCAN_FAULT_STACK_TOP);
    /* I/O map base past the limit: no I/O permission bitmap */
    tss[TSS64_IOMAP_BASE] = TSS64_SIZE & 0xFF;
    tss[TSS64_IOMAP_BASE + 1] = TSS64_SIZE >> 8;
}

/*
 * One stub per vector: [push $0 when the CPU pushes no error code], then
 * mov $vector, %al; out %al, $TINCAN_PORT_FAULT; hlt. The host reads the
 * vector from the OUT and the error code and RIP from the IST1 frame.
 */
static void build_idt(uint8_t *img)
{
    for (unsigned v = 0; v < IDT_ENTRIES; v++) {
        uint64_t stub_gpa = TINCAN_STUBS_ADDR + (uint64_t)v * STUB_SIZE;
        uint8_t *stub = at(img, stub_gpa);
        unsigned n = 0;

        memset(stub, OP_NOP, STUB_SIZE);
        if (!boot_vector_has_error_code(v)) {
            stub[n++] = OP_PUSH_IMM8;
            stub[n++] = 0;
        }
        stub[n++] = OP_MOV_AL_IMM8;
        stub[n++] = (uint8_t)v;
        stub[n++] = OP_OUT_IMM8_AL;
        stub[n++] = TINCAN_PORT_FAULT;
        stub[n++] = OP_HLT;

        /* 64-bit interrupt gate (SDM 6.14.1, figure 6-8) */
        uint8_t *g = at(img, TINCAN_IDT_ADDR + (uint64_t)v * IDT_GATE_SIZE);
        uint64_t lo = 0;
        lo |= stub_gpa & 0xFFFF;
        lo |= (uint64_t)SEL_CODE << 16;
        lo |= (uint64_t)IDT_IST_FAULT << 32;
        lo |= (uint64_t)IDT_TYPE_INTERRUPT << 40;
        lo |= 1ULL << 47; /* present */
        /* int3 and into in a ring-3 program raise #BP and #OF, as on
         * Linux; any other int n there is a #GP. */
        if (v == X86_EXC_BP || v == X86_EXC_OF)
            lo |= (uint64_t)IDT_DPL_USER << IDT_DPL_SHIFT;
        lo |= ((stub_gpa >> 16) & 0xFFFF) << 48;
        put64(g, lo);
        put64(g + 8, stub_gpa >> 32);
    }
}

/*
 * Identity map [0, 4 GiB): PML4[0] -> PDPT; PDPT[0..3] -> four page
 * directories of 2 MiB pages, except the first 2 MiB, which uses 4 KiB
 * pages so that page 0 can stay not-present (null dereference = #PF).
 * Accessed and dirty are set already, so the CPU's page walks never write
 * to the tables: a job's first accesses copy no page-table page (the
 * emulator's guest memory is copy-on-write from its template).
 * Every page from TINCAN_RESERVED_END up is a user page; tincan's own
 * [0x1000, 0x10000) is supervisor-only, so a ring-3 Linux guest can touch
 * neither its tables nor its stubs (ring 0 ignores the bit: without SMEP
 * and SMAP, SDK guests see no difference).
 */
static void build_page_tables(uint8_t *img)
{
    const uint64_t table = PTE_P | PTE_RW | PTE_A | PTE_D;
    const uint64_t user = table | PTE_US;
    unsigned npd = (unsigned)(TINCAN_MAPPED_END / (PAGE_SIZE_2M * PT_ENTRIES));

    put64(at(img, TINCAN_PML4_ADDR), TINCAN_PDPT_ADDR | user);
    for (unsigned i = 0; i < npd; i++) {
        uint64_t pd = TINCAN_PD_ADDR + i * PAGE_SIZE;
        put64(at(img, TINCAN_PDPT_ADDR) + i * 8, pd | user);
        for (unsigned j = 0; j < PT_ENTRIES; j++) {
            uint64_t addr = ((uint64_t)i * PT_ENTRIES + j) * PAGE_SIZE_2M;
            put64(at(img, pd) + j * 8, addr | user | PTE_PS);
        }
    }
    put64(at(img, TINCAN_PD_ADDR), TINCAN_PT0_ADDR | user);
    put64(at(img, TINCAN_PT0_ADDR), 0); /* page 0: not present */
    for (unsigned k = 1; k < PT_ENTRIES; k++) {
        uint64_t addr = k * PAGE_SIZE;
        put64(at(img, TINCAN_PT0_ADDR) + k * 8,
              addr | (addr < TINCAN_RESERVED_END ? table : user));
    }
}

extern const uint8_t lxstub_entry[], lxstub_entry_end[];
extern const uint8_t lxstub_syscall[], lxstub_syscall_end[];

/* The Linux guests' ring-0 stubs (lxstub.S); unused by SDK guests. */
static void build_lx_stubs(uint8_t *img)
{
    memcpy(at(img, TINCAN_LX_ENTRY_ADDR), lxstub_entry,
           (size_t)(lxstub_entry_end - lxstub_entry));
    memcpy(at(img, TINCAN_LX_SYSCALL_ADDR), lxstub_syscall,
           (size_t)(lxstub_syscall_end - lxstub_syscall));
}

void boot_build_image(uint8_t *img)
{
    memset(img, 0, BOOT_IMAGE_SIZE);
    build_gdt(img);
    build_idt(img);
    build_page_tables(img);
    build_lx_stubs(img);
}

void boot_linux_state(struct boot_state *st, uint64_t mem_size, uint64_t entry,
                      uint64_t sp, const struct boot_cpu *cpu)
{
    boot_entry_state(st, mem_size, TINCAN_LX_ENTRY_ADDR, 0, 0, cpu);
    st->rsp = sp;
    st->rbx = entry;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

int boot_guard(uint8_t *mem, uint64_t gpa, uint64_t len)
{
    uint64_t region = gpa & ~(PAGE_SIZE_2M - 1);
    uint64_t pde_gpa = TINCAN_PD_ADDR + (gpa / PAGE_SIZE_2M) * 8;
    uint64_t pde = get64(mem + pde_gpa), pt;

    if (len == 0 || gpa % PAGE_SIZE || len % PAGE_SIZE ||
        gpa < TINCAN_RESERVED_END || gpa + len > region + PAGE_SIZE_2M ||
        gpa + len > TINCAN_MAPPED_END)
        return -1;
    if (pde & PTE_PS) {
        /* Split the 2 MiB page into the job's spare page table. */
        uint64_t flags = pde & (PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
        pt = TINCAN_GUARD_PT_ADDR;
        for (unsigned k = 0; k < PT_ENTRIES; k++)
            put64(mem + pt + k * 8, (region + k * PAGE_SIZE) | flags);
        put64(mem + pde_gpa, pt | PTE_P | PTE_RW | PTE_US | PTE_A | PTE_D);
    } else {
        pt = pde & ~(PAGE_SIZE - 1);
        if (pt != TINCAN_PT0_ADDR && pt != TINCAN_GUARD_PT_ADDR)
            return -1;
    }
    for (uint64_t a = gpa; a < gpa + len; a += PAGE_SIZE)
        put64(mem + pt + ((a - region) / PAGE_SIZE) * 8, 0);
    return 0;
}

void boot_entry_state(struct boot_state *st, uint64_t mem_size, uint64_t entry,
                      uint64_t input_addr, uint64_t input_len,
                      const struct boot_cpu *cpu)
{
    memset(st, 0, sizeof(*st));
    /* Caches on: CD and NW clear (KVM's reset CR0 has them set). */
    st->cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    st->cr3 = TINCAN_PML4_ADDR;
    st->cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
    st->efer = EFER_LME | EFER_LMA;
    st->xcr0 = XCR0_X87 | XCR0_SSE;
    if (cpu->xsave) {
        st->cr4 |= CR4_OSXSAVE;
        if (cpu->avx)
            st->xcr0 |= XCR0_AVX;
    }
    st->rip = entry;
    st->rsp = mem_size;
    st->rdi = input_addr;
    st->rsi = input_len;
    st->rflags = RFLAGS_RESERVED1;
    st->gdt_base = TINCAN_GDT_ADDR;
    st->gdt_limit = GDT_ENTRIES * 8 - 1;
    st->idt_base = TINCAN_IDT_ADDR;
    st->idt_limit = IDT_ENTRIES * IDT_GATE_SIZE - 1;
    st->cs = seg_code;
    st->ds = seg_data;
    st->tr = seg_tss;
}

int boot_load_job(uint8_t *mem, const struct sbx_job *job, uint64_t hwcap)
{
    const struct sbx_segment *stack = &job->lx.stack;

    for (unsigned i = 0; i < job->nsegs; i++)
        memcpy(mem + job->segs[i].gpa, job->segs[i].data, job->segs[i].filesz);
    if (job->abi == SBX_ABI_LINUX) {
        memcpy(mem + stack->gpa, stack->data, stack->filesz);
        if (job->lx.hwcap_at < stack->gpa ||
            job->lx.hwcap_at - stack->gpa > stack->filesz - 8)
            return -1;
        put64(mem + job->lx.hwcap_at, hwcap);
    } else if (job->input_len)
        memcpy(mem + job->input_addr, job->input, job->input_len);
    if (job->guard_len)
        return boot_guard(mem, job->guard, job->guard_len);
    return 0;
}

static const char *const vector_names[X86_EXCEPTIONS] = {
    [X86_EXC_DE] = "#DE", [X86_EXC_DB] = "#DB", [X86_EXC_NMI] = "NMI",
    [X86_EXC_BP] = "#BP", [X86_EXC_OF] = "#OF", [X86_EXC_BR] = "#BR",
    [X86_EXC_UD] = "#UD", [X86_EXC_NM] = "#NM", [X86_EXC_DF] = "#DF",
    [9] = "#CSO",         [X86_EXC_TS] = "#TS", [X86_EXC_NP] = "#NP",
    [X86_EXC_SS] = "#SS", [X86_EXC_GP] = "#GP", [X86_EXC_PF] = "#PF",
    [X86_EXC_MF] = "#MF", [X86_EXC_AC] = "#AC", [X86_EXC_MC] = "#MC",
    [X86_EXC_XM] = "#XM", [X86_EXC_VE] = "#VE", [X86_EXC_CP] = "#CP",
    [X86_EXC_HV] = "#HV", [X86_EXC_VC] = "#VC", [X86_EXC_SX] = "#SX",
};

const char *boot_vector_name(unsigned vector)
{
    if (vector < X86_EXCEPTIONS && vector_names[vector])
        return vector_names[vector];
    return vector < X86_EXCEPTIONS ? "reserved" : "INT";
}

int boot_vector_has_error_code(unsigned vector)
{
    switch (vector) {
    case X86_EXC_DF:
    case X86_EXC_TS:
    case X86_EXC_NP:
    case X86_EXC_SS:
    case X86_EXC_GP:
    case X86_EXC_PF:
    case X86_EXC_AC:
    case X86_EXC_CP:
    case X86_EXC_VC:
    case X86_EXC_SX:
        return 1;
    default:
        return 0;
    }
}
