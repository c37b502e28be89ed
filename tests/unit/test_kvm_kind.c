/* test_kvm_kind.c - telling hardware KVM from kvm_pvm and other software
 * KVMs (sandbox/kvm.c kvm_host_kind): fake /proc/cpuinfo files and
 * /sys/module trees in a temp dir, one case per row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../sandbox/kvm.h"

#define FLAGS_PVM_HOST                                                         \
    "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca "     \
    "cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx lm sse3 ssse3 "    \
    "sse4_1 sse4_2 avx hypervisor avx2 svm_lock\n"

struct kind_case {
    const char *name;
    const char *cpuinfo; /* NULL: no such file */
    const char *modules; /* space-separated directories under sys/module */
    enum kvm_kind want;
};

static const struct kind_case cases[] = {
    {"vmx", "processor\t: 0\nflags\t\t: fpu vmx sse2\n", "kvm kvm_intel",
     KVM_KIND_HW},
    {"svm", "processor\t: 0\nflags\t\t: fpu sse2 svm npt\n", "kvm kvm_amd",
     KVM_KIND_HW},
    {"pvm_without_virt_flags", FLAGS_PVM_HOST, "kvm kvm_pvm", KVM_KIND_PVM},
    /* kvm_pvm is the vendor module whenever it is loaded */
    {"pvm_on_a_cpu_with_svm", "flags\t\t: fpu svm\n", "kvm kvm_pvm",
     KVM_KIND_PVM},
    {"no_virt_flags_no_pvm", FLAGS_PVM_HOST, "kvm", KVM_KIND_SOFTWARE},
    /* a word, not a part of one: svm_lock and vmxe are not svm and vmx */
    {"flag_prefixes_are_not_flags", "flags\t\t: svm_lock vmxe xsvm\n", "kvm",
     KVM_KIND_SOFTWARE},
    /* only the flags line counts, not a model name that says "vmx" */
    {"model_name_is_not_a_flag", "model name\t: vmx svm\nflags\t\t: fpu sse2\n",
     "kvm", KVM_KIND_SOFTWARE},
    {"no_cpuinfo", NULL, "kvm", KVM_KIND_SOFTWARE},
};

static char tmp[PATH_MAX - 64];

static void make_tree(const struct kind_case *c, char *cpuinfo, char *sysmodule)
{
    char path[PATH_MAX + 64], mods[256];

    snprintf(tmp, sizeof(tmp), "%s/tincan-kind.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(tmp));
    snprintf(cpuinfo, PATH_MAX, "%s/cpuinfo", tmp);
    snprintf(sysmodule, PATH_MAX, "%s/module", tmp);
    assert_int_equal(mkdir(sysmodule, 0700), 0);
    if (c->cpuinfo) {
        FILE *f = fopen(cpuinfo, "w");
        assert_non_null(f);
        fputs(c->cpuinfo, f);
        fclose(f);
    }
    snprintf(mods, sizeof(mods), "%s", c->modules);
    for (char *save, *m = strtok_r(mods, " ", &save); m;
         m = strtok_r(NULL, " ", &save)) {
        snprintf(path, sizeof(path), "%s/%s", sysmodule, m);
        assert_int_equal(mkdir(path, 0700), 0);
    }
}

static void remove_tree(const struct kind_case *c, const char *cpuinfo,
                        const char *sysmodule)
{
    char path[PATH_MAX + 64], mods[256];

    snprintf(mods, sizeof(mods), "%s", c->modules);
    for (char *save, *m = strtok_r(mods, " ", &save); m;
         m = strtok_r(NULL, " ", &save)) {
        snprintf(path, sizeof(path), "%s/%s", sysmodule, m);
        assert_int_equal(rmdir(path), 0);
    }
    assert_int_equal(rmdir(sysmodule), 0);
    if (c->cpuinfo)
        assert_int_equal(unlink(cpuinfo), 0);
    assert_int_equal(rmdir(tmp), 0);
}

static void test_kind_from_cpu_flags_and_modules(void **state)
{
    char cpuinfo[PATH_MAX], sysmodule[PATH_MAX];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct kind_case *c = &cases[i];
        make_tree(c, cpuinfo, sysmodule);
        enum kvm_kind got = kvm_host_kind(cpuinfo, sysmodule);
        remove_tree(c, cpuinfo, sysmodule);
        if (got != c->want)
            fail_msg("%s: got %s, want %s", c->name, kvm_kind_name(got),
                     kvm_kind_name(c->want));
    }
}

/* --backend kvm runs on hardware KVM and on kvm_pvm (its ring-3 path);
 * auto picks KVM on hardware only. */
static void test_hardware_and_pvm_run_the_abi_auto_only_hardware(void **state)
{
    static const struct {
        enum kvm_kind kind;
        int runs, for_auto;
    } kinds[] = {
        {KVM_KIND_HW, 1, 1},
        {KVM_KIND_PVM, 1, 0},
        {KVM_KIND_SOFTWARE, 0, 0},
        {KVM_KIND_NONE, 0, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        assert_int_equal(kvm_kind_runs_abi(kinds[i].kind), kinds[i].runs);
        assert_int_equal(kvm_kind_for_auto(kinds[i].kind), kinds[i].for_auto);
    }
}

/* The zygote gets the kind as a word: every name parses back. */
static void test_kind_names_round_trip(void **state)
{
    static const char *const names[KVM_KIND_COUNT] = {"none", "hardware", "pvm",
                                                      "software"};

    (void)state;
    for (unsigned k = 0; k < KVM_KIND_COUNT; k++) {
        assert_string_equal(kvm_kind_name((enum kvm_kind)k), names[k]);
        assert_int_equal(kvm_kind_named(names[k]), k);
    }
    assert_int_equal(kvm_kind_named("hw"), KVM_KIND_COUNT);
    assert_int_equal(kvm_kind_named(NULL), KVM_KIND_COUNT);
    assert_string_equal(kvm_kind_name(KVM_KIND_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_from_cpu_flags_and_modules),
        cmocka_unit_test(test_hardware_and_pvm_run_the_abi_auto_only_hardware),
        cmocka_unit_test(test_kind_names_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
