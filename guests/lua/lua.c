/*
 * lua.c - a small Lua 5.4 interpreter as an ordinary static Linux program:
 * the script is the job's input (stdin), its print() and io.write go to
 * stdout, an error goes to stderr as "lua: MESSAGE" with exit code 1.
 * Linked with Debian's liblua5.4.a (liblua5.4-dev) by gcc -static; the
 * same binary runs natively, which is what tests compare against.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    size_t len = 0, cap = 1 << 16;
    char *buf = malloc(cap);
    lua_State *L;
    int rc;

    if (!buf)
        return 2;
    for (size_t n; (n = fread(buf + len, 1, cap - len, stdin)) > 0;) {
        len += n;
        if (len == cap) {
            char *more = realloc(buf, cap *= 2);
            if (!more)
                return 2;
            buf = more;
        }
    }
    L = luaL_newstate();
    if (!L)
        return 2;
    luaL_openlibs(L);
    rc = luaL_loadbuffer(L, buf, len, "=input") || lua_pcall(L, 0, 0, 0);
    if (rc)
        fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    lua_close(L);
    free(buf);
    return rc ? 1 : 0;
}
