/*
 * boot.c - builds the guest's initial tables and entry state (see boot.h and
 * guests/ABI.md for the memory map).
 */
#include "boot.h"

#include <string.h>

#include "x86.h"

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

static void build_gdt(uint8_t *img)
{
    uint8_t *gdt = at(img, TINCAN_GDT_ADDR);

    put64(gdt + GDT_NULL * 8, 0);
    put64(gdt + GDT_CODE * 8, seg_desc(&seg_code));
    put64(gdt + GDT_DATA * 8, seg_desc(&seg_data));
    /* 16-byte system descriptor: the upper half holds base[63:32] */
    put64(gdt + GDT_TSS * 8, seg_desc(&seg_tss));
    put64(gdt + GDT_TSS * 8 + 8, seg_tss.base >> 32);

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
 */
static void build_page_tables(uint8_t *img)
{
    const uint64_t table = PTE_P | PTE_RW | PTE_A | PTE_D;
    unsigned npd = (unsigned)(TINCAN_MAPPED_END / (PAGE_SIZE_2M * PT_ENTRIES));

    put64(at(img, TINCAN_PML4_ADDR), TINCAN_PDPT_ADDR | table);
    for (unsigned i = 0; i < npd; i++) {
        uint64_t pd = TINCAN_PD_ADDR + i * PAGE_SIZE;
        put64(at(img, TINCAN_PDPT_ADDR) + i * 8, pd | table);
        for (unsigned j = 0; j < PT_ENTRIES; j++) {
            uint64_t addr = ((uint64_t)i * PT_ENTRIES + j) * PAGE_SIZE_2M;
            put64(at(img, pd) + j * 8, addr | table | PTE_PS);
        }
    }
    put64(at(img, TINCAN_PD_ADDR), TINCAN_PT0_ADDR | table);
    put64(at(img, TINCAN_PT0_ADDR), 0); /* page 0: not present */
    for (unsigned k = 1; k < PT_ENTRIES; k++)
        put64(at(img, TINCAN_PT0_ADDR) + k * 8, k * PAGE_SIZE | table);
}

void boot_build_image(uint8_t *img)
{
    memset(img, 0, BOOT_IMAGE_SIZE);
    build_gdt(img);
    build_idt(img);
    build_page_tables(img);
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
