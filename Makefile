# tincan - build, test and check. Outputs go to $(BUILD) (default build/).
#   make              the CLI, libtincan.a and the guests
#   make test         unit tests here; integration tests on /dev/kvm when it
#                     is usable, else in the KVM lane (LANE=1 forces the lane)
#   make sanitize     the same suite built with ASan + UBSan
#   make bench        the benchmark: build/bench.json and a table (not a test)
#   make format-check clang-format over every C file
#   make deps         install the Debian packages the build and tests need
#   make install      install under PREFIX (DESTDIR, BINDIR, ...): mk/install.mk

BUILD ?= build
CC ?= cc
SAN ?=
LANE ?=

CFLAGS_BASE := -std=gnu11 -D_GNU_SOURCE -g -O2 -Wall -Wextra -Werror \
	-Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
	-fno-strict-aliasing -Iguests/sdk
# Bind every symbol at startup: else each job's child, a fresh copy of a
# parent that never called them, resolves the calls only children make
# (lockdown, the run loop) again, faulting in every library's symbol tables.
LDFLAGS += -Wl,-z,now
ifneq ($(SAN),)
CFLAGS_BASE += -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
endif
CFLAGS ?=
override CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
LDLIBS := -lseccomp -lcap -ljansson -lcurl -lcrypto -ldl -lpthread \
	-lmicrohttpd -lhiredis -lm

# The sandbox side: what every job's child runs. It is linked into the
# zygote (below), and into the library for the tests and the parent's few
# calls (opening /dev/kvm, naming syscalls).
SBX_SRCS := sandbox/boot.c sandbox/abi.c sandbox/jail.c sandbox/kvm.c \
	sandbox/emu.c sandbox/ucdl.c sandbox/emu_cov.c sandbox/emu_x87.c \
	sandbox/sandbox.c sandbox/cpuid.c
# Linux guests: the system calls and their boot-image stubs (sandbox), the
# process start (runner).
SBX_SRCS += sandbox/lx.c
# The KVM backend's ring-3 boot path on kvm_pvm hosts.
SBX_SRCS += sandbox/pvm.c
SBX_ASM := sandbox/lxstub.S
SBX_OBJS := $(SBX_SRCS:%.c=$(BUILD)/obj/%.o) $(SBX_ASM:%.S=$(BUILD)/obj/%.o)
LIB_SRCS := $(SBX_SRCS) runner/job.c runner/units.c runner/codec.c \
	runner/payload.c runner/pcache.c runner/cgroup.c runner/image.c \
	runner/zygote.c api/tincan.c runner/fsafe.c \
	runner/fuzz_mutator.c runner/fuzz_corpus.c runner/fuzz_buckets.c \
	runner/fuzz_minimize.c runner/fuzz_sched.c runner/fuzz_engine.c
LIB_SRCS += runner/lxstart.c
LIB_SRCS += runner/pool.c
# The zygote (sandbox/zyg.c): the small program every job's child is forked
# from, exec'd from a memfd by the library, which carries it as bytes
# (runner/zygote_blob.S).
ZYGOTE := $(BUILD)/tincan-zygote
ZYGOTE_BLOB := $(BUILD)/obj/runner/zygote_blob.o
ZYGOTE_LIBS := -lseccomp -lcap -ldl
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(SBX_ASM:%.S=$(BUILD)/obj/%.o) \
	$(ZYGOTE_BLOB)
LIB := $(BUILD)/libtincan.a
CLI := $(BUILD)/tincan
# The CLI's own modules (not the C API): linked into the CLI and the tests.
CLI_SRCS := api/report.c api/jobspec.c api/fetchopt.c api/check.c \
	api/batch.c api/fuzz.c api/jobrun.c api/jobq.c api/tokens.c api/metrics.c \
	api/http.c api/http_jobs.c api/http_meta.c api/http_play.c api/serve.c \
	runner/queue.c api/worker.c api/queue_cmd.c api/jobq_redis.c
# The playground page, assembled into the CLI (api/playground.S).
CLI_ASM := $(BUILD)/obj/api/playground.o
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_LIB := $(BUILD)/obj/libtincan-cli.a

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
INT_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(wildcard tests/integration/test_*.c))
# The compromised-child harness: a zygote whose children run
# tests/harness/evil_child.c in place of the sandbox, built into the
# harness test and into a CLI (tincan-evil) instead of the real zygote.
HARNESS_ZYGOTE := $(BUILD)/tests/tincan-zygote-evil
HARNESS_BLOB := $(BUILD)/tests/obj/evil_blob.o
HARNESS := $(BUILD)/tests/test_harness $(BUILD)/tests/tincan-evil
INT_TESTS += $(HARNESS)
TEST_HDRS := $(wildcard tests/*.h)

.PHONY: all test test-unit test-integration sanitize fuzz format \
	format-check deps clean bench
all: $(CLI) $(LIB) guests

# Ordinary programs (guests/linux, csmith, Lua) do not depend on how tincan
# is built: `make sanitize` reuses the plain build's (PROGRAMS=build), and
# the tests find them through TINCAN_PROGRAMS.
PROGRAMS ?= $(BUILD)
export TINCAN_PROGRAMS := $(PROGRAMS)

include guests/guests.mk
include guests/linux/linux.mk
include tests/csmith/csmith.mk
include guests/lua/lua.mk
include mk/install.mk

$(BUILD)/obj/%.o: %.c Makefile guests/guests.mk
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/obj/%.o: %.S Makefile guests/sdk/tincan_abi.h sandbox/lxframe.h
	@mkdir -p $(@D)
	$(CC) -Iguests/sdk -Wa,--fatal-warnings -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(ZYGOTE): $(BUILD)/obj/sandbox/zyg.o $(SBX_OBJS)
	$(CC) $(LDFLAGS) -o $@ $^ $(ZYGOTE_LIBS)

# The library embeds the zygote without its debug sections (68 KiB instead
# of 270): nothing can strip them from inside libtincan later (a package's
# strip step sees only the library), and every zygote start copies the
# image into a memfd. A sanitizer build keeps them for its reports.
ZYGOTE_EMBED := $(if $(SAN),$(ZYGOTE),$(BUILD)/tincan-zygote.embed)
$(BUILD)/tincan-zygote.embed: $(ZYGOTE)
	$(OBJCOPY) --strip-debug $< $@
$(ZYGOTE_BLOB): runner/zygote_blob.S $(ZYGOTE_EMBED)
	@mkdir -p $(@D)
	$(CC) -c -DZYGOTE_BIN='"$(ZYGOTE_EMBED)"' -o $@ $<

$(CLI_LIB): $(CLI_OBJS) $(CLI_ASM)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/obj/api/playground.o: api/playground.S api/playground.html
	@mkdir -p $(@D)
	$(CC) -c -o $@ $<

$(CLI): $(BUILD)/obj/api/cli.o $(CLI_LIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CLI_LIB) $(LIB) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(CLI_LIB) $(LIB) $(LDFLAGS) $(LDLIBS) \
		-lcmocka

$(BUILD)/tests/%: tests/integration/%.c $(LIB) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

$(HARNESS_ZYGOTE): $(BUILD)/obj/sandbox/zyg.o $(SBX_OBJS) \
		$(BUILD)/obj/tests/harness/evil_child.o
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -Wl,--wrap=sbx_child_main -o $@ $^ $(ZYGOTE_LIBS)

$(HARNESS_BLOB): runner/zygote_blob.S $(HARNESS_ZYGOTE)
	@mkdir -p $(@D)
	$(CC) -c -DZYGOTE_BIN='"$(HARNESS_ZYGOTE)"' -o $@ $<

# The harness's blob comes first: the library's own zygote is not linked.
$(BUILD)/tests/test_harness: tests/harness/test_harness.c $(HARNESS_BLOB) \
		$(LIB) $(TEST_HDRS)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(HARNESS_BLOB) $(LIB) $(LDFLAGS) \
		$(LDLIBS) -lcmocka

$(BUILD)/tests/tincan-evil: $(BUILD)/obj/api/cli.o $(HARNESS_BLOB) $(CLI_LIB) \
		$(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

test: all linux-guests csmith-guests lua-guest $(UNIT_TESTS) $(INT_TESTS)
	@BUILD=$(BUILD) tests/run-unit
	@BUILD=$(BUILD) SAN=$(SAN) tests/pkg/run
	@BUILD=$(BUILD) LANE=$(LANE) tests/run-integration-anywhere

test-unit: all linux-guests csmith-guests lua-guest $(UNIT_TESTS) $(INT_TESTS)
	@BUILD=$(BUILD) tests/run-unit

test-integration: all linux-guests csmith-guests lua-guest $(INT_TESTS)
	@BUILD=$(BUILD) LANE=$(LANE) tests/run-integration-anywhere

# The benchmark (issue 7): not part of make test. emu here, kvm in the lane
# (or here, where /dev/kvm has VMX/SVM); BENCH=emu or BENCH=kvm picks one.
BENCH_BIN := $(BUILD)/bench/bench
$(BENCH_BIN): tests/bench/bench.c $(LIB) guests/examples/sha256.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
# The ceiling for fuzz_time_to_magic_s: the magic guest's bug under
# libFuzzer (Debian's clang), in-process.
BENCH_LIBFUZZER := $(BUILD)/bench/magic_libfuzzer
$(BENCH_LIBFUZZER): tests/bench/magic_libfuzzer.c guests/fuzz/magic.h
	@mkdir -p $(@D)
	clang -O2 -g -fsanitize=fuzzer -o $@ $<
bench: all linux-guests $(BENCH_BIN) $(BENCH_LIBFUZZER)
	@BUILD=$(BUILD) BENCH=$(BENCH) tests/bench/run

# ASan's default 256 MiB quarantine of freed blocks would count against an
# emulator job's cgroup (guest memory + 64 MiB): Unicorn allocates and frees
# as it translates, and a sanitized child passed 80 MiB on a 3 MB output.
sanitize:
	ASAN_OPTIONS=quarantine_size_mb=16 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) BUILD=$(BUILD)/san PROGRAMS=$(PROGRAMS) SAN=1 test

# libFuzzer over the ELF loader, seeded with the example guests; bounded.
FUZZ_SECONDS ?= 60
FUZZ := $(BUILD)/fuzz/fuzz_image
$(FUZZ): tests/fuzz/fuzz_image.c runner/image.c runner/image.h
	@mkdir -p $(@D)
	clang -g -O1 -D_GNU_SOURCE -Iguests/sdk \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-o $@ tests/fuzz/fuzz_image.c runner/image.c
fuzz: $(FUZZ) guests
	@mkdir -p $(BUILD)/fuzz/corpus
	cp $(EXAMPLE_ELFS) $(BUILD)/fuzz/corpus/
	@$(FUZZ) -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=1024 \
		-print_final_stats=1 $(BUILD)/fuzz/corpus >$(BUILD)/fuzz/log 2>&1; \
		rc=$$?; tail -6 $(BUILD)/fuzz/log; \
		echo "fuzz: $(FUZZ_SECONDS) s of the ELF loader, exit $$rc"; exit $$rc

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

deps:
	scripts/install-deps

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
