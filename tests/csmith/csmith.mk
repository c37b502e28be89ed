# tests/csmith/csmith.mk - programs nobody here wrote: csmith (Debian's
# csmith 2.3.0; its runtime headers come with libcsmith-dev) generates one
# C program per seed in tests/csmith/seeds, each built with musl-gcc
# -static at -O0 and -O2 into $(BUILD)/csmith/SEED.O0.elf, SEED.O2.elf.
# The seeds: the first 210 from 1 up whose program ends within 1 s natively
# at -O0 and -O2 (30 of seeds 1-247 do not: csmith's loops can run for
# minutes) and within 1 s on the emulator (5 more do not), so that each runs
# in tens of milliseconds: 34 s for all 420 on the emulator.
# tests/integration/test_native.c runs each natively and in tincan and
# compares the checksum it prints. Built programs stay in $(BUILD)/csmith
# (make's usual caching); `make csmith-guests` builds them, -j2 in CI.
CSMITH ?= csmith
CSMITH_INC ?= /usr/include/csmith
CSMITH_DIR := $(PROGRAMS)/csmith
CSMITH_SEEDS := $(shell cat tests/csmith/seeds 2>/dev/null)
CSMITH_ELFS := $(foreach s,$(CSMITH_SEEDS),$(CSMITH_DIR)/$(s).O0.elf \
	$(CSMITH_DIR)/$(s).O2.elf)

.PHONY: csmith-guests
csmith-guests: $(CSMITH_ELFS)
.SECONDARY: $(CSMITH_SEEDS:%=$(CSMITH_DIR)/%.c)

# In its directory: csmith leaves platform.info where it runs. A program
# depends on its seed alone (and csmith's version), not on this file: an
# edit here does not regenerate 420 programs.
$(CSMITH_DIR)/%.c:
	@mkdir -p $(@D)
	cd $(@D) && $(CSMITH) --seed $* --output $*.c.tmp && mv $*.c.tmp $*.c

# -w: csmith's code is warning-prone by design; what matters is its output.
$(CSMITH_DIR)/%.O0.elf: $(CSMITH_DIR)/%.c
	$(MUSL_GCC) -static -O0 -w -I$(CSMITH_INC) -o $@ $<

$(CSMITH_DIR)/%.O2.elf: $(CSMITH_DIR)/%.c
	$(MUSL_GCC) -static -O2 -w -I$(CSMITH_INC) -o $@ $<
