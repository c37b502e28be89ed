#!/usr/bin/env bash
# tests/pkg/install.sh - make install and uninstall, and what they install
# working as installed: the staged layout under DESTDIR (every file, the
# .pc's paths, the symlinks), uninstall removing all of it, libtincan.so's
# SONAME and dynamic symbols (exactly the functions of tincan.h), the shared
# library carrying every object of the static one, a C program built with
# `pkg-config --cflags --libs tincan` (and --static against libtincan.a)
# running a job, guests built with the installed tincan-cc (C, assembly,
# ELF and flat) run by the installed tincan, and man finding the pages.
. "$(dirname "$0")/../integration/lib.sh" install

MAKE_VARS=(BUILD="$BUILD")
[ -n "${SAN:-}" ] && MAKE_VARS+=(SAN=1)
SANFLAGS=
[ -n "${SAN:-}" ] && SANFLAGS="-fsanitize=address,undefined"
version=$(sed -n 's/^#define TINCAN_VERSION "\(.*\)"/\1/p' api/tincan.h)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
so=libtincan.so.$major.$minor
ML=usr/lib/x86_64-linux-gnu

# --- A staged install, as a package build does it.
S=$T/stage
if ! make -s "${MAKE_VARS[@]}" install DESTDIR="$S" PREFIX=/usr \
    LIBDIR=/$ML >"$T/make.log" 2>&1; then
    bad "make install DESTDIR" "$(tail -5 "$T/make.log")"
fi
(cd "$S" && find . ! -type d | sed 's|^\./||' | sort) >"$T/files"
{
    printf '%s\n' usr/bin/tincan usr/bin/tincan-cc usr/include/tincan.h \
        $ML/$so $ML/libtincan.so.$major $ML/libtincan.so $ML/libtincan.a \
        $ML/pkgconfig/tincan.pc $ML/tincan/sdk/crt0.o $ML/tincan/sdk/note.o \
        $ML/tincan/sdk/libtincan_guest.a $ML/tincan/sdk/guest.ld \
        $ML/tincan/sdk/include/tincan_abi.h \
        $ML/tincan/sdk/include/tincan_guest.h \
        usr/lib/systemd/system/tincan-serve.service \
        usr/lib/systemd/system/tincan-worker@.service \
        usr/share/bash-completion/completions/tincan
    for p in api/*.scd guests/*.scd guests/sdk/*.scd; do
        p=$(basename "$p" .scd)
        echo "usr/share/man/man${p##*.}/$p"
    done
} | sort >"$T/want"
if diff -u "$T/want" "$T/files" >"$T/diff"; then
    ok "make install DESTDIR= PREFIX=/usr LIBDIR=/$ML: $(wc -l <"$T/files") files, as listed"
else
    bad "make install layout" "$(grep '^[-+][^-+]' "$T/diff" | tr '\n' ' ')"
fi
link() { readlink "$S/$ML/$1"; }
if [ "$(link libtincan.so)" = "libtincan.so.$major" ] &&
    [ "$(link "libtincan.so.$major")" = "$so" ] && [ -f "$S/$ML/$so" ]; then
    ok "libtincan.so -> libtincan.so.$major -> $so"
else
    bad "symlinks" "libtincan.so -> $(link libtincan.so), .so.$major -> $(link "libtincan.so.$major")"
fi
pc=$S/$ML/pkgconfig/tincan.pc
want_pc="prefix=/usr libdir=/$ML includedir=/usr/include Version: $version"
got_pc=$(grep -E '^(prefix|libdir|includedir)=|^Version:' "$pc" | tr '\n' ' ')
if [ "$got_pc" = "$want_pc " ]; then
    ok "tincan.pc names the installed paths: $got_pc"
else
    bad "tincan.pc" "got '$got_pc', want '$want_pc'"
fi
sdk=$(sh "$S/usr/bin/tincan-cc" --sdk-dir)
if [ "$sdk" = "/$ML/tincan/sdk" ]; then
    ok "tincan-cc --sdk-dir is /$ML/tincan/sdk"
else
    bad "tincan-cc --sdk-dir" "'$sdk'"
fi
grep -q "^ExecStart=/usr/bin/tincan serve " \
    "$S/usr/lib/systemd/system/tincan-serve.service" &&
    ok "the units run /usr/bin/tincan" ||
    bad "units" "ExecStart does not name /usr/bin/tincan"

make -s "${MAKE_VARS[@]}" uninstall DESTDIR="$S" PREFIX=/usr LIBDIR=/$ML \
    >"$T/make.log" 2>&1
left=$(cd "$S" && find . ! -type d)
if [ -z "$left" ]; then
    ok "make uninstall removes every file it installed"
else
    bad "make uninstall" "left: $(echo $left)"
fi
if [ -d "$S/$ML/tincan" ]; then
    bad "make uninstall" "left the SDK directory $ML/tincan"
else
    ok "make uninstall removes the SDK directory"
fi

# Each directory variable on its own.
S2=$T/stage2
make -s "${MAKE_VARS[@]}" install DESTDIR="$S2" PREFIX=/opt/tc BINDIR=/opt/bin \
    LIBDIR=/opt/lib64 INCLUDEDIR=/opt/inc MANDIR=/opt/man SDKDIR=/opt/sdk \
    PKGCONFIGDIR=/opt/pc UNITDIR=/opt/units COMPLETIONDIR=/opt/bc \
    >"$T/make.log" 2>&1
missing=
for f in bin/tincan bin/tincan-cc lib64/$so lib64/libtincan.a inc/tincan.h \
    man/man1/tincan-run.1 man/man3/tincan.3 man/man7/tincan-abi.7 \
    sdk/crt0.o sdk/include/tincan_guest.h pc/tincan.pc \
    units/tincan-serve.service bc/tincan; do
    [ -e "$S2/opt/$f" ] || missing="$missing /opt/$f"
done
pcs=$(grep -E '^(prefix|libdir|includedir)=' "$S2/opt/pc/tincan.pc" | tr '\n' ' ')
if [ -z "$missing" ] && [ "$pcs" = "prefix=/opt/tc libdir=/opt/lib64 includedir=/opt/inc " ] &&
    [ "$(sh "$S2/opt/bin/tincan-cc" --sdk-dir)" = /opt/sdk ] &&
    [ -z "$(find "$S2/opt/tc" ! -type d 2>/dev/null)" ]; then
    ok "BINDIR, LIBDIR, INCLUDEDIR, MANDIR, SDKDIR, PKGCONFIGDIR, UNITDIR, COMPLETIONDIR each place their files"
else
    bad "directory variables" "missing:$missing; pc: $pcs"
fi

# --- The library's interface: SONAME, BIND_NOW, only the tc_ functions.
lib=$BUILD/$so
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libtincan.so.$major" ] && ok "SONAME libtincan.so.$major" ||
    bad "SONAME" "'$soname'"
readelf -d "$lib" | grep -q TEXTREL &&
    bad "$so" "has text relocations: an object in it is not position-independent"
readelf -d "$lib" | grep -q 'BIND_NOW' && ok "$so is linked -z now" ||
    bad "$so" "no BIND_NOW: each job's child would resolve symbols lazily"
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
    sort >"$T/exported"
grep -oE '\btc_[a-z_]+\(' api/tincan.h | tr -d '(' | sort -u >"$T/api"
if [ "$(wc -l <"$T/api")" -ge 10 ] && diff -u "$T/api" "$T/exported" >"$T/diff"; then
    ok "$so exports exactly the $(wc -l <"$T/api") functions of tincan.h"
else
    bad "exported symbols" "$(grep '^[-+][^-+]' "$T/diff" | tr '\n' ' ')"
fi
# debian/libtincan0.symbols lists the same symbols (the package build
# fails otherwise, DPKG_GENSYMBOLS_CHECK_LEVEL=4; this says so sooner).
sed -nE 's/^ ([a-z_]+)@TINCAN_[0-9.]+ .*/\1/p' debian/libtincan0.symbols |
    sort >"$T/symbols"
if diff -u "$T/exported" "$T/symbols" >"$T/diff"; then
    ok "debian/libtincan0.symbols lists the $(wc -l <"$T/symbols") exports"
else
    bad "debian/libtincan0.symbols" "differs from $so: $(grep '^[-+][^-+]' "$T/diff" | tr '\n' ' '); add each new tc_ function with the version that adds it"
fi
bad_version=$(nm -D --defined-only "$lib" | awk '$2 != "A" && $3 !~ /@@TINCAN_0\./')
[ -z "$bad_version" ] && ok "every export has version TINCAN_$major.x" ||
    bad "symbol versions" "$bad_version"
# Every global symbol libtincan.a defines is in the shared library (local
# there, but defined): the two libraries are built from the same objects.
nm -g --defined-only "$BUILD/libtincan.a" 2>/dev/null |
    awk 'NF == 3 { print $3 }' | sort -u >"$T/static"
nm --defined-only "$lib" | awk 'NF == 3 { print $3 }' | sort -u >"$T/shared"
missing=$(comm -23 "$T/static" "$T/shared" | tr '\n' ' ')
if [ -s "$T/static" ] && [ -z "$missing" ]; then
    ok "$so defines all $(wc -l <"$T/static") symbols of libtincan.a"
else
    bad "shared vs static" "not in $so: $missing"
fi

# --- A real install under a prefix, used as a user would.
P=$T/prefix
if ! make -s "${MAKE_VARS[@]}" install PREFIX="$P" LDCONFIG=: >"$T/make.log" 2>&1; then
    bad "make install PREFIX" "$(tail -5 "$T/make.log")"
fi
export PKG_CONFIG_PATH=$P/lib/pkgconfig
cat >"$T/demo.c" <<'EOF'
#include <stdio.h>
#include <string.h>
#include <tincan.h>

/* Runs `mov al, 'A'; out 0x10, al; hlt` on the backend named by argv[1]. */
int main(int argc, char **argv)
{
    static const unsigned char code[] = {0xb0, 0x41, 0xe6, 0x10, 0xf4};
    struct tc_job job;
    struct tc_result res;
    int rc;

    tc_job_init(&job);
    job.code = code;
    job.code_len = sizeof(code);
    job.backend = argc > 1 && !strcmp(argv[1], "emu") ? TC_BACKEND_EMU
                                                       : TC_BACKEND_AUTO;
    rc = tc_run(&job, &res);
    if (rc == 0)
        printf("%s %s %.*s\n", tc_status_name(res.status), res.backend,
               (int)res.output_len, (const char *)res.output);
    else
        printf("refused: %s\n", res.message);
    tc_result_free(&res);
    return rc != 0;
}
EOF
flags=$(pkg-config --cflags --libs tincan)
if [ "$(pkg-config --modversion tincan)" = "$version" ]; then
    ok "pkg-config --modversion tincan is $version"
else
    bad "pkg-config" "--modversion: $(pkg-config --modversion tincan 2>&1)"
fi
# shellcheck disable=SC2086
if cc $SANFLAGS -Wall -Werror -o "$T/demo" "$T/demo.c" $flags 2>"$T/cc.err"; then
    out=$(LD_LIBRARY_PATH=$P/lib "$T/demo" emu 2>&1)
    if [ "$out" = "ok emu A" ]; then
        ok "cc \$(pkg-config --cflags --libs tincan): the program runs a job ('$out')"
    else
        bad "dynamic demo" "printed '$out', want 'ok emu A'"
    fi
    if LD_LIBRARY_PATH=$P/lib ldd "$T/demo" | grep -q "libtincan.so.$major => $P/lib/"; then
        ok "the program loads libtincan.so.$major from the prefix"
    else
        bad "dynamic demo" "ldd: $(LD_LIBRARY_PATH=$P/lib ldd "$T/demo" | grep tincan)"
    fi
else
    bad "dynamic demo" "cc $flags: $(head -5 "$T/cc.err")"
fi
# Statically: libtincan.a, then the libraries of Requires.private (shared:
# Debian's libcurl cannot be linked statically without more -dev packages)
# and Libs.private, as the .pc names them.
private=$(pkg-config --print-requires-private tincan | tr '\n' ' ')
lprivate=$(sed -n 's/^Libs.private: //p' "$PKG_CONFIG_PATH/tincan.pc")
# shellcheck disable=SC2086
sflags="$(pkg-config --cflags tincan) -L$P/lib -l:libtincan.a $(pkg-config --libs $private) $lprivate"
# shellcheck disable=SC2086
if cc $SANFLAGS -Wall -Werror -o "$T/demo-static" "$T/demo.c" $sflags -Wl,-z,now \
    2>"$T/cc.err"; then
    out=$("$T/demo-static" emu 2>&1)
    if [ "$out" = "ok emu A" ] && ! ldd "$T/demo-static" | grep -q libtincan; then
        ok "pkg-config --static with libtincan.a: the program runs a job"
    else
        bad "static demo" "printed '$out'"
    fi
else
    bad "static demo" "cc $sflags: $(head -5 "$T/cc.err")"
fi

# --- Guests with the installed SDK, run by the installed tincan.
cc_guest=$P/bin/tincan-cc
cat >"$T/hello.c" <<'EOF'
#include "tincan_guest.h"

int main(const unsigned char *input, unsigned long len)
{
    tc_printf("hello %lu\n", len);
    tc_flush();
    tc_write(input, len);
    return 7;
}
EOF
printf 'abc' >"$T/in"
for out in hello.elf hello.bin; do
    if "$cc_guest" -O2 -Wall -Werror -o "$T/$out" "$T/hello.c" 2>"$T/cc.err"; then
        got=$("$P/bin/tincan" run --backend emu --input "$T/in" "$T/$out" 2>&1)
        rc=$?
        if [ "$got" = "hello 3"$'\n'"abc" ] && [ $rc = 7 ]; then
            ok "tincan-cc -o $out: runs, prints its input, exits 7"
        else
            bad "tincan-cc $out" "exit $rc, output '$got'"
        fi
    else
        bad "tincan-cc $out" "$(head -5 "$T/cc.err")"
    fi
done
case $(head -c 4 "$T/hello.elf" | od -An -c | tr -d ' ') in
177ELF) ok "hello.elf is an ELF, hello.bin flat code" ;;
*) bad "tincan-cc" "hello.elf is not an ELF" ;;
esac
# Compile and link in two steps, and an assembly guest with its own _start.
if "$cc_guest" -c -O2 -o "$T/hello.o" "$T/hello.c" &&
    "$cc_guest" -o "$T/two.elf" "$T/hello.o" &&
    [ "$("$P/bin/tincan" run --backend emu "$T/two.elf")" = "hello 0" ]; then
    ok "tincan-cc -c, then tincan-cc -o from the object"
else
    bad "tincan-cc -c" "the two-step build did not run"
fi
cat >"$T/exit5.S" <<'EOF'
#include "tincan_abi.h"
        .code64
        .globl _start
_start: movb    $'Z', %al
        outb    %al, $TINCAN_PORT_OUTPUT
        movb    $5, %al
        outb    %al, $TINCAN_PORT_EXIT
EOF
if "$cc_guest" -nostartfiles -o "$T/exit5.bin" "$T/exit5.S" 2>"$T/cc.err"; then
    got=$("$P/bin/tincan" run --backend emu "$T/exit5.bin")
    rc=$?
    if [ "$got" = Z ] && [ $rc = 5 ] && [ "$(stat -c %s "$T/exit5.bin")" -lt 64 ]; then
        ok "tincan-cc -nostartfiles: an assembly guest, $(stat -c %s "$T/exit5.bin") bytes of flat code"
    else
        bad "assembly guest" "exit $rc, output '$got'"
    fi
else
    bad "assembly guest" "$(head -3 "$T/cc.err")"
fi
"$cc_guest" --bogus >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 2 ] && [ ! -s "$T/out" ] && [ "$(wc -l <"$T/err")" = 1 ] &&
    grep -q "^tincan-cc: unknown option '--bogus'" "$T/err"; then
    ok "tincan-cc --bogus: one line, exit 2"
else
    bad "tincan-cc --bogus" "exit $rc: $(cat "$T/err")"
fi
mv "$P/lib/tincan/sdk/crt0.o" "$T/crt0.o"
"$cc_guest" -o "$T/x.elf" "$T/hello.c" 2>"$T/err"
rc=$?
mv "$T/crt0.o" "$P/lib/tincan/sdk/crt0.o"
if [ $rc = 2 ] && grep -q "crt0.o is missing" "$T/err"; then
    ok "tincan-cc with a broken SDK names the missing file"
else
    bad "tincan-cc broken SDK" "exit $rc: $(cat "$T/err")"
fi

# --- man finds the installed pages.
if MANPATH=$P/share/man man -w tincan-run 2>/dev/null | grep -q "^$P/share/man/man1/tincan-run.1" &&
    MANPATH=$P/share/man MANWIDTH=80 man tincan 2>/dev/null | grep -q 'tincan-run(1)'; then
    ok "man tincan and man -w tincan-run find the installed pages"
else
    bad "man" "$(MANPATH=$P/share/man man -w tincan-run 2>&1)"
fi
finish
