# guests/guests.mk - build guests/NAME.S into $(BUILD)/guests/NAME.bin, a flat
# binary to be loaded and entered at TINCAN_ENTRY. Included by the top-level
# Makefile; also usable alone: make -f guests/guests.mk guests
BUILD ?= build
CC ?= cc
LD ?= ld
OBJCOPY ?= objcopy

# The load address comes from the ABI header, the single source of truth.
GUEST_ENTRY := $(shell sed -n 's/^\#define TINCAN_ENTRY[[:space:]]*\(0x[0-9A-Fa-f]*\).*/\1/p' guests/sdk/tincan_abi.h)
ifeq ($(GUEST_ENTRY),)
$(error guests.mk: TINCAN_ENTRY not found in guests/sdk/tincan_abi.h)
endif

GUEST_SRCS := $(wildcard guests/*.S)
GUEST_OBJS := $(GUEST_SRCS:guests/%.S=$(BUILD)/guests/%.o)
GUEST_ELFS := $(GUEST_SRCS:guests/%.S=$(BUILD)/guests/%.elf)
GUEST_HDRS := guests/sdk/tincan_abi.h guests/guest.inc

# C guests: guests/examples/NAME.c -> NAME.elf (static ELF64) and NAME.bin,
# linked with the SDK (crt0, support library) at the ABI's entry address.
EXAMPLE_SRCS := $(wildcard guests/examples/*.c)
EXAMPLE_OBJS := $(EXAMPLE_SRCS:guests/examples/%.c=$(BUILD)/guests/examples/%.o)
EXAMPLE_ELFS := $(EXAMPLE_SRCS:guests/examples/%.c=$(BUILD)/guests/%.elf)
SDK_NOTE := $(BUILD)/guests/sdk/note.o
SDK_OBJS := $(BUILD)/guests/sdk/crt0.o $(BUILD)/guests/sdk/libtincan_guest.o \
	$(SDK_NOTE)
SDK_HDRS := guests/sdk/tincan_abi.h guests/sdk/tincan_guest.h
GUEST_CFLAGS := -std=gnu11 -O2 -ffreestanding -nostdlib -static -fno-pic \
	-fno-pie -mno-red-zone -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fcf-protection=none -Wall -Wextra \
	-Werror -I guests/sdk -I guests/examples
LIBGCC := $(shell $(CC) -print-libgcc-file-name)

GUEST_BINS := $(GUEST_ELFS:.elf=.bin) $(EXAMPLE_ELFS:.elf=.bin)

.PHONY: guests
guests: $(GUEST_BINS) $(EXAMPLE_ELFS)
.SECONDARY: $(GUEST_OBJS) $(GUEST_ELFS) $(EXAMPLE_OBJS) $(SDK_OBJS)

$(GUEST_OBJS): $(BUILD)/guests/%.o: guests/%.S $(GUEST_HDRS) guests/guests.mk
	@mkdir -p $(@D)
	$(CC) -c -I guests/sdk -I guests -Wa,--fatal-warnings -o $@ $<

# Every guest carries tincan's ABI note (note.S): its ELF runs as a tincan
# guest, not as a Linux program.
$(GUEST_ELFS): $(BUILD)/guests/%.elf: $(BUILD)/guests/%.o $(SDK_NOTE) guests/sdk/guest.ld
	$(LD) -N -T guests/sdk/guest.ld --defsym=TINCAN_ENTRY=$(GUEST_ENTRY) \
		-z noexecstack --no-warn-rwx-segments --fatal-warnings -o $@ $< \
		$(SDK_NOTE)

$(SDK_NOTE): guests/sdk/note.S $(SDK_HDRS) guests/guests.mk
	@mkdir -p $(@D)
	$(CC) -c -I guests/sdk -Wa,--fatal-warnings -o $@ $<

$(BUILD)/guests/sdk/crt0.o: guests/sdk/crt0.S $(SDK_HDRS) guests/guests.mk
	@mkdir -p $(@D)
	$(CC) -c -I guests/sdk -Wa,--fatal-warnings -o $@ $<

# The support library must not have its loops turned into calls to itself.
$(BUILD)/guests/sdk/libtincan_guest.o: guests/sdk/libtincan_guest.c $(SDK_HDRS) guests/guests.mk
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -fno-builtin -fno-tree-loop-distribute-patterns -c -o $@ $<

$(EXAMPLE_OBJS): $(BUILD)/guests/examples/%.o: guests/examples/%.c $(SDK_HDRS) $(wildcard guests/examples/*.h) guests/guests.mk
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(EXAMPLE_ELFS): $(BUILD)/guests/%.elf: $(BUILD)/guests/examples/%.o $(SDK_OBJS) guests/sdk/guest.ld
	$(LD) -T guests/sdk/guest.ld --defsym=TINCAN_ENTRY=$(GUEST_ENTRY) \
		-static -z noexecstack --no-warn-rwx-segments --fatal-warnings \
		-o $@ $(SDK_OBJS) $< $(LIBGCC)

$(BUILD)/guests/%.bin: $(BUILD)/guests/%.elf
	$(OBJCOPY) -O binary $< $@

# Planted-bug guests for `tincan fuzz` (issue 16): guests/fuzz/NAME.c ->
# $(BUILD)/guests/fuzz/NAME.elf and .bin, and NAME_fixed.elf and .bin from
# the same source with -DTINCAN_FUZZ_FIXED (the bug mended), with which the
# tests prove that the cases `tincan fuzz --to-check` writes then fail.
FUZZ_GUEST_SRCS := $(wildcard guests/fuzz/*.c)
FUZZ_GUEST_NAMES := $(FUZZ_GUEST_SRCS:guests/fuzz/%.c=%)
FUZZ_GUEST_ELFS := $(FUZZ_GUEST_NAMES:%=$(BUILD)/guests/fuzz/%.elf) \
	$(FUZZ_GUEST_NAMES:%=$(BUILD)/guests/fuzz/%_fixed.elf)
FUZZ_GUEST_OBJS := $(FUZZ_GUEST_ELFS:.elf=.o)
FUZZ_GUEST_HDRS := $(SDK_HDRS) $(wildcard guests/fuzz/*.h) guests/guests.mk

guests: $(FUZZ_GUEST_ELFS) $(FUZZ_GUEST_ELFS:.elf=.bin)
.SECONDARY: $(FUZZ_GUEST_OBJS)

$(BUILD)/guests/fuzz/%_fixed.o: guests/fuzz/%.c $(FUZZ_GUEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -DTINCAN_FUZZ_FIXED -c -o $@ $<

$(BUILD)/guests/fuzz/%.o: guests/fuzz/%.c $(FUZZ_GUEST_HDRS)
	@mkdir -p $(@D)
	$(CC) $(GUEST_CFLAGS) -c -o $@ $<

$(BUILD)/guests/fuzz/%.elf: $(BUILD)/guests/fuzz/%.o $(SDK_OBJS) guests/sdk/guest.ld
	$(LD) -T guests/sdk/guest.ld --defsym=TINCAN_ENTRY=$(GUEST_ENTRY) \
		-static -z noexecstack --no-warn-rwx-segments --fatal-warnings \
		-o $@ $(SDK_OBJS) $< $(LIBGCC)
