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
GUEST_BINS := $(GUEST_SRCS:guests/%.S=$(BUILD)/guests/%.bin)
GUEST_HDRS := guests/sdk/tincan_abi.h guests/guest.inc

.PHONY: guests
guests: $(GUEST_BINS)
.SECONDARY: $(GUEST_OBJS) $(GUEST_ELFS)

$(BUILD)/guests/%.o: guests/%.S $(GUEST_HDRS) guests/guests.mk
	@mkdir -p $(@D)
	$(CC) -c -I guests/sdk -I guests -Wa,--fatal-warnings -o $@ $<

$(BUILD)/guests/%.elf: $(BUILD)/guests/%.o
	$(LD) -N -Ttext=$(GUEST_ENTRY) -e _start -z noexecstack \
		--no-warn-rwx-segments --fatal-warnings -o $@ $<

$(BUILD)/guests/%.bin: $(BUILD)/guests/%.elf
	$(OBJCOPY) -O binary -j .text $< $@
