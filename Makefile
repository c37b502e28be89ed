# tincan - build, test and check. Outputs go to $(BUILD) (default build/).
#   make              the CLI, libtincan.a and the guests
#   make test         unit tests here; integration tests on /dev/kvm when it
#                     is usable, else in the KVM lane (LANE=1 forces the lane)
#   make sanitize     the same suite built with ASan + UBSan
#   make bench        the benchmark: build/bench.json and a table (not a test)
#   make format-check clang-format over every C file
#   make deps         install the Debian packages the build and tests need

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
LDLIBS := -lseccomp -lcap -ljansson -lcurl -lcrypto -ldl -lpthread

LIB_SRCS := sandbox/boot.c sandbox/abi.c sandbox/jail.c sandbox/kvm.c \
	sandbox/emu.c sandbox/ucdl.c \
	sandbox/sandbox.c runner/job.c runner/units.c runner/codec.c \
	runner/payload.c runner/pcache.c runner/cgroup.c runner/image.c api/tincan.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB := $(BUILD)/libtincan.a
CLI := $(BUILD)/tincan
# The CLI's own modules (not the C API): linked into the CLI and the tests.
CLI_SRCS := api/report.c api/jobspec.c api/fetchopt.c api/check.c \
	api/batch.c
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_LIB := $(BUILD)/obj/libtincan-cli.a

UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
INT_TESTS := $(patsubst tests/integration/%.c,$(BUILD)/tests/%,$(wildcard tests/integration/test_*.c))
TEST_HDRS := $(wildcard tests/*.h)

.PHONY: all test test-unit test-integration sanitize fuzz format \
	format-check deps clean bench
all: $(CLI) $(LIB) guests

include guests/guests.mk

$(BUILD)/obj/%.o: %.c Makefile guests/guests.mk
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(CLI_LIB): $(CLI_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(CLI): $(BUILD)/obj/api/cli.o $(CLI_LIB) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(CLI_LIB) $(LIB) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(CLI_LIB) $(LIB) $(LDFLAGS) $(LDLIBS) \
		-lcmocka

$(BUILD)/tests/%: tests/integration/%.c $(LIB) $(TEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS) -lcmocka

test: all $(UNIT_TESTS) $(INT_TESTS)
	@BUILD=$(BUILD) tests/run-unit
	@BUILD=$(BUILD) LANE=$(LANE) tests/run-integration-anywhere

test-unit: all $(UNIT_TESTS) $(INT_TESTS)
	@BUILD=$(BUILD) tests/run-unit

test-integration: all $(INT_TESTS)
	@BUILD=$(BUILD) LANE=$(LANE) tests/run-integration-anywhere

# The benchmark (issue 7): not part of make test. emu here, kvm in the lane
# (or here, where /dev/kvm has VMX/SVM); BENCH=emu or BENCH=kvm picks one.
BENCH_BIN := $(BUILD)/bench/bench
$(BENCH_BIN): tests/bench/bench.c $(LIB) guests/examples/sha256.h
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDFLAGS) $(LDLIBS)
bench: all $(BENCH_BIN)
	@BUILD=$(BUILD) BENCH=$(BENCH) tests/bench/run

# ASan's default 256 MiB quarantine of freed blocks would count against an
# emulator job's cgroup (guest memory + 64 MiB): Unicorn allocates and frees
# as it translates, and a sanitized child passed 80 MiB on a 3 MB output.
sanitize:
	ASAN_OPTIONS=quarantine_size_mb=16 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(MAKE) BUILD=$(BUILD)/san SAN=1 test

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
