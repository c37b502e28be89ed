# guests/lua/lua.mk - a real interpreter as a guest: guests/lua/lua.c
# linked with Debian's static liblua5.4.a (liblua5.4-dev) by gcc -static
# into $(BUILD)/lua/lua.elf. Scripts for it are in tests/lua/.
LUA_INC ?= /usr/include/lua5.4
LUA_LIB ?= /usr/lib/x86_64-linux-gnu/liblua5.4.a
LUA_ELF := $(PROGRAMS)/lua/lua.elf

.PHONY: lua-guest
lua-guest: $(LUA_ELF)

# Debian's liblua5.4.a can load C modules with dlopen, so the static link
# prints glibc's warning that dlopen needs glibc's shared libraries at run
# time. Expected: a script that asks for a C module finds no file to load
# (tincan gives the program none), natively the same.
$(LUA_ELF): guests/lua/lua.c guests/lua/lua.mk
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -Werror -I$(LUA_INC) -o $@ $< \
		$(LUA_LIB) -lm -ldl
