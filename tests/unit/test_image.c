/* test_image.c - the memory plan of a job: flat binaries, static ELF64
 * executables built byte by byte (well-formed and broken in every way the
 * loader checks), and where the input goes. No KVM needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <errno.h>
#include <string.h>

#include "../runner/image.h"
#include "tincan_abi.h"

#define MIB (1ULL << 20)

/* An ELF with up to 3 program headers and some payload bytes. */
struct elf_file {
    Elf64_Ehdr eh;
    Elf64_Phdr ph[3];
    uint8_t body[64];
};

static void make_elf(struct elf_file *f)
{
    memset(f, 0, sizeof(*f));
    memcpy(f->eh.e_ident, ELFMAG, SELFMAG);
    f->eh.e_ident[EI_CLASS] = ELFCLASS64;
    f->eh.e_ident[EI_DATA] = ELFDATA2LSB;
    f->eh.e_ident[EI_VERSION] = EV_CURRENT;
    f->eh.e_type = ET_EXEC;
    f->eh.e_machine = EM_X86_64;
    f->eh.e_version = EV_CURRENT;
    f->eh.e_entry = 0x400010;
    f->eh.e_phoff = offsetof(struct elf_file, ph);
    f->eh.e_ehsize = sizeof(Elf64_Ehdr);
    f->eh.e_phentsize = sizeof(Elf64_Phdr);
    f->eh.e_phnum = 2;
    /* text: 32 bytes of the body at 0x400000, executable */
    f->ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_X,
                            .p_offset = offsetof(struct elf_file, body),
                            .p_vaddr = 0x400000,
                            .p_paddr = 0x400000,
                            .p_filesz = 32,
                            .p_memsz = 32};
    /* data + bss: 16 bytes of file, 0x3000 in memory */
    f->ph[1] = (Elf64_Phdr){.p_type = PT_LOAD,
                            .p_flags = PF_R | PF_W,
                            .p_offset = offsetof(struct elf_file, body) + 32,
                            .p_vaddr = 0x401000,
                            .p_paddr = 0x401000,
                            .p_filesz = 16,
                            .p_memsz = 0x3000};
    for (int i = 0; i < 64; i++)
        f->body[i] = (uint8_t)i;
}

static int load(struct elf_file *f, size_t len, uint64_t mem,
                struct sbx_job *job, char *err)
{
    memset(job, 0, sizeof(*job));
    job->mem_size = mem;
    return image_elf(job, (const uint8_t *)f, len, err, 256);
}

static void test_elf_segments_and_entry_are_taken_from_the_file(void **state)
{
    struct elf_file f;
    struct sbx_job job;
    char err[256] = "";

    (void)state;
    make_elf(&f);
    assert_int_equal(load(&f, sizeof(f), 16 * MIB, &job, err), 0);
    assert_int_equal(job.nsegs, 2);
    assert_int_equal(job.entry, 0x400010);
    assert_int_equal(job.segs[0].gpa, 0x400000);
    assert_ptr_equal(job.segs[0].data, f.body);
    assert_int_equal(job.segs[0].filesz, 32);
    assert_int_equal(job.segs[1].gpa, 0x401000);
    assert_int_equal(job.segs[1].filesz, 16);
    assert_int_equal(job.segs[1].memsz, 0x3000);
    /* input: first page after the end of .bss */
    assert_int_equal(
        image_place_input(&job, (const uint8_t *)"in", 2, err, sizeof(err)), 0);
    assert_int_equal(job.input_addr, 0x404000);
    assert_int_equal(job.input_len, 2);
}

static void refused(struct elf_file *f, size_t len, uint64_t mem,
                    const char *needle)
{
    struct sbx_job job;
    char err[256] = "";

    assert_int_equal(load(f, len, mem, &job, err), -EINVAL);
    if (!strstr(err, needle))
        fail_msg("expected '%s' in: %s", needle, err);
}

static void test_elf_header_problems_are_named(void **state)
{
    struct elf_file f;

    (void)state;
    make_elf(&f);
    refused(&f, 40, 16 * MIB, "truncated: 40 bytes");
    f.eh.e_ident[EI_CLASS] = ELFCLASS32;
    refused(&f, sizeof(f), 16 * MIB, "not ELFCLASS64");
    make_elf(&f);
    f.eh.e_ident[EI_DATA] = ELFDATA2MSB;
    refused(&f, sizeof(f), 16 * MIB, "not little-endian");
    make_elf(&f);
    f.eh.e_machine = EM_386;
    refused(&f, sizeof(f), 16 * MIB, "not x86-64");
    make_elf(&f);
    f.eh.e_type = ET_DYN;
    refused(&f, sizeof(f), 16 * MIB, "-static -no-pie");
    make_elf(&f);
    f.eh.e_phentsize = 32;
    refused(&f, sizeof(f), 16 * MIB, "program header size");
    make_elf(&f);
    f.eh.e_phnum = 60000;
    refused(&f, sizeof(f), 16 * MIB, "run past the end");
    make_elf(&f);
    f.eh.e_phoff = UINT64_MAX - 8;
    refused(&f, sizeof(f), 16 * MIB, "run past the end");
    /* truncated inside the program headers */
    make_elf(&f);
    refused(&f, offsetof(struct elf_file, ph) + 60, 16 * MIB,
            "run past the end");
}

static void test_elf_segment_problems_are_named(void **state)
{
    struct elf_file f;

    (void)state;
    make_elf(&f);
    f.ph[0].p_filesz = 33;
    f.ph[0].p_memsz = 32;
    refused(&f, sizeof(f), 16 * MIB, "exceeds its memory size");
    make_elf(&f);
    f.ph[1].p_offset = sizeof(f) - 8;
    refused(&f, sizeof(f), 16 * MIB, "lies outside the");
    make_elf(&f);
    f.ph[1].p_offset = UINT64_MAX;
    refused(&f, sizeof(f), 16 * MIB, "lies outside the");
    make_elf(&f);
    f.ph[1].p_filesz = UINT64_MAX;
    refused(&f, sizeof(f), 16 * MIB, "lies outside the");
    make_elf(&f);
    f.ph[0].p_vaddr = 0x4000; /* over the page tables */
    refused(&f, sizeof(f), 16 * MIB, "overlaps tincan's page tables");
    make_elf(&f);
    f.ph[1].p_vaddr = 16 * MIB - 0x2000; /* into the stack region */
    refused(&f, sizeof(f), 16 * MIB, "does not fit below the stack");
    make_elf(&f);
    f.ph[1].p_vaddr = UINT64_MAX - 0x1000; /* wraps */
    refused(&f, sizeof(f), 16 * MIB, "does not fit below the stack");
    make_elf(&f);
    f.ph[1].p_memsz = UINT64_MAX;
    f.ph[1].p_filesz = 0;
    refused(&f, sizeof(f), 16 * MIB, "does not fit below the stack");
    make_elf(&f);
    f.ph[1].p_vaddr = 0x400010; /* overlaps the text segment */
    refused(&f, sizeof(f), 16 * MIB, "overlaps another loadable segment");
    make_elf(&f);
    f.eh.e_entry = 0x401000; /* in the data segment: not executable */
    refused(&f, sizeof(f), 16 * MIB, "not inside an executable segment");
    make_elf(&f);
    f.eh.e_entry = 0x400020; /* one past the text */
    refused(&f, sizeof(f), 16 * MIB, "not inside an executable segment");
    make_elf(&f);
    f.ph[0].p_type = PT_NOTE;
    f.ph[1].p_type = PT_NULL;
    refused(&f, sizeof(f), 16 * MIB, "no loadable (PT_LOAD) segment");
    make_elf(&f);
    refused(&f, sizeof(f), 4 * MIB + 1, "multiple of 4 KiB");
}

static void test_flat_binary_goes_to_the_entry_address(void **state)
{
    struct sbx_job job;
    char err[256] = "";
    static uint8_t code[0x2000];
    uint64_t room = image_sdk_guard(MIB) - TINCAN_ENTRY;

    (void)state;
    memset(&job, 0, sizeof(job));
    job.mem_size = MIB;
    assert_int_equal(image_raw(&job, code, 5, err, sizeof(err)), 0);
    assert_int_equal(job.nsegs, 1);
    assert_int_equal(job.entry, TINCAN_ENTRY);
    assert_int_equal(job.segs[0].gpa, TINCAN_ENTRY);
    assert_int_equal(image_place_input(&job, code, 7, err, sizeof(err)), 0);
    assert_int_equal(job.input_addr, TINCAN_ENTRY + 0x1000);
    assert_int_equal(image_raw(&job, code, 0, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "the code is empty: give at least one byte");
    assert_int_equal(image_raw(&job, code, room, err, sizeof(err)), 0);
    assert_int_equal(image_raw(&job, code, room + 1, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "raise --mem"));
}

static void test_input_must_fit_below_the_stack(void **state)
{
    struct sbx_job job;
    char err[256] = "";
    static uint8_t code[16];
    uint64_t room = image_sdk_guard(MIB) - TINCAN_ENTRY - 0x1000;

    (void)state;
    memset(&job, 0, sizeof(job));
    job.mem_size = MIB;
    assert_int_equal(image_raw(&job, code, 16, err, sizeof(err)), 0);
    assert_int_equal(image_place_input(&job, code, room, err, sizeof(err)), 0);
    assert_int_equal(image_place_input(&job, code, room + 1, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "does not fit after the code"));
    assert_int_equal(image_place_input(&job, code, SIZE_MAX, err, sizeof(err)),
                     -EINVAL);
    memset(&job, 0, sizeof(job));
    job.mem_size = MIB - 4096;
    assert_int_equal(image_raw(&job, code, 16, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "between 1 MiB and 1 GiB"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elf_segments_and_entry_are_taken_from_the_file),
        cmocka_unit_test(test_elf_header_problems_are_named),
        cmocka_unit_test(test_elf_segment_problems_are_named),
        cmocka_unit_test(test_flat_binary_goes_to_the_entry_address),
        cmocka_unit_test(test_input_must_fit_below_the_stack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
