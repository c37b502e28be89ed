# guests/linux/linux.mk - the Linux corpus: every guests/linux/NAME.c as an
# ordinary static program, built twice, with musl (musl-gcc -static, Debian's
# musl-tools) and with glibc (gcc -static), into $(BUILD)/linux/NAME.musl.elf
# and NAME.glibc.elf; hello also as a glibc static-pie (musl-gcc's specs
# cannot link one: its -static-pie output names an interpreter) and as an
# ordinary dynamic glibc program, which tincan refuses. Nothing here
# knows tincan: these are the programs users submit. Included by the
# top-level Makefile (`make linux-guests`, part of `make test`).
MUSL_GCC ?= musl-gcc
LINUX_DIR := $(PROGRAMS)/linux
LINUX_SRCS := $(wildcard guests/linux/*.c)
LINUX_NAMES := $(LINUX_SRCS:guests/linux/%.c=%)
LINUX_CFLAGS := -O2 -Wall -Wextra -Werror -Wno-unused-result
LINUX_PIE := hello
LINUX_ELFS := $(foreach n,$(LINUX_NAMES),$(LINUX_DIR)/$(n).musl.elf \
	$(LINUX_DIR)/$(n).glibc.elf) \
	$(foreach n,$(LINUX_PIE),$(LINUX_DIR)/$(n)_pie.glibc.elf) \
	$(LINUX_DIR)/hello_dynamic.glibc.elf

.PHONY: linux-guests
linux-guests: $(LINUX_ELFS)

$(LINUX_DIR)/%.musl.elf: guests/linux/%.c guests/linux/linux.mk
	@mkdir -p $(@D)
	$(MUSL_GCC) -static $(LINUX_CFLAGS) -o $@ $<

$(LINUX_DIR)/%.glibc.elf: guests/linux/%.c guests/linux/linux.mk
	@mkdir -p $(@D)
	$(CC) -static $(LINUX_CFLAGS) -o $@ $<

$(LINUX_DIR)/%_pie.glibc.elf: guests/linux/%.c guests/linux/linux.mk
	@mkdir -p $(@D)
	$(CC) -static-pie -fPIE $(LINUX_CFLAGS) -o $@ $<

$(LINUX_DIR)/hello_dynamic.glibc.elf: guests/linux/hello.c guests/linux/linux.mk
	@mkdir -p $(@D)
	$(CC) $(LINUX_CFLAGS) -o $@ $<
