#!/usr/bin/env bash
# tests/pkg/deb.sh - the Debian package, built and used as a user would:
# dpkg-buildpackage -us -uc -b on a copy of the source, lintian with no tag
# left (pedantic and experimental included; overrides carry their reasons),
# then the packages installed with dpkg into a clean Debian chroot made by
# debootstrap holding only what they depend on, where `tincan run` runs a
# guest, a C program built with `pkg-config --cflags --libs tincan` runs a
# job, a guest built with the installed tincan-cc runs, and purging the
# packages leaves none of their files. Needs root (debootstrap, chroot) and
# Debian's mirror, the one apt uses. $BUILD/deb/cache keeps debootstrap's
# tarball of the packages and the chroot it made (keyed by suite, mirror
# and package list), so a rerun needs no network and unpacks a pristine
# chroot in seconds instead of installing a hundred packages again.
. "$(dirname "$0")/../integration/lib.sh" deb

DEB=$BUILD/deb
C=$T/chroot
mkdir -p "$DEB/cache"
start=$(date +%s)
lap() { echo "# $1: $(($(date +%s) - start)) s"; }
if [ "$(id -u)" != 0 ]; then
    bad "root" "debootstrap and chroot need root; run as root (CI does)"
    finish
    exit
fi
for tool in dpkg-buildpackage lintian debootstrap; do
    command -v "$tool" >/dev/null ||
        bad "$tool" "not installed: run scripts/install-deps"
done
[ "$failed" = 0 ] || { finish; exit; }

# --- Build the packages from a copy of the tracked (and new) files.
version=$(sed -n 's/^#define TINCAN_VERSION "\(.*\)"/\1/p' api/tincan.h)
abi=$(sed -nE 's/^#define TINCAN_ABI_VERSION +([0-9]+).*/\1/p' guests/sdk/tincan_abi.h)
src=$DEB/src/tincan-$version
rm -rf "$DEB/src" && mkdir -p "$src"
git ls-files -co --exclude-standard | grep -v "^build/" | grep -v "^$BUILD/" |
    tar -cf - -T - | tar -xf - -C "$src"
if (cd "$src" && dpkg-buildpackage -us -uc -b) >"$DEB/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b"
else
    bad "dpkg-buildpackage" "$(tail -15 "$DEB/build.log")"
    finish
    exit
fi
lap "package built"
debs=()
for p in tincan libtincan0 libtincan-dev tincan-sdk; do
    f=$DEB/src/${p}_${version}_amd64.deb
    [ -f "$f" ] && debs+=("$f") || bad "$p" "no $f"
done
[ ${#debs[@]} = 4 ] && ok "built tincan, libtincan0, libtincan-dev, tincan-sdk"

# lintian prints nothing but its note about running as root.
lintian --pedantic -E -I --tag-display-limit 0 \
    "$DEB/src/tincan_${version}_amd64.changes" >"$DEB/lintian.log" 2>&1
tags=$(grep -v 'running with root privileges' "$DEB/lintian.log")
if [ -z "$tags" ]; then
    ok "lintian --pedantic -E -I: no tags ($(cat debian/*.lintian-overrides | grep -vc '^#') overridden, each with its reason)"
else
    bad "lintian" "$tags"
fi
lap "lintian"

# --- A clean chroot with only what the packages depend on: the first of
# each Depends/Recommends alternative, without our own packages, plus what
# this test uses to build a C program (libc6-dev, pkg-config).
deps=$(for f in "${debs[@]}"; do
    dpkg-deb -f "$f" Depends Recommends | sed 's/^[A-Za-z]*: //'
done | tr ',' '\n' | sed -E 's/\|.*//; s/\(.*\)//; s/:any//; s/ //g' |
    grep -vxE 'tincan|libtincan0|libtincan-dev|tincan-sdk|' | sort -u)
include=$(echo $deps libc6-dev pkg-config | tr ' ' '\n' | sort -u | paste -sd, -)
. /etc/os-release
suite=${VERSION_CODENAME:?/etc/os-release names no VERSION_CODENAME}
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources \
    2>/dev/null | grep -v security | head -1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ { print $2; exit }' \
    /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
key=$(echo "$suite $mirror $include" | sha256sum | cut -c1-12)
tarball=$DEB/cache/$suite-minbase-$key.tgz # debootstrap's: the packages
base=$DEB/cache/$suite-chroot-$key.tar     # the chroot debootstrap made
if [ -s "$base" ]; then
    mkdir -p "$C"
    if tar -C "$C" -xf "$base"; then
        ok "a clean $suite chroot from the cached debootstrap result"
    else
        bad "chroot" "cannot unpack $base"
        finish
        exit
    fi
else
    if [ ! -s "$tarball" ]; then
        echo "# downloading $suite from $mirror into $tarball"
        rm -f "$DEB/cache/$suite-"*
        if ! debootstrap --variant=minbase --include="$include" \
            --make-tarball="$tarball.tmp" "$suite" "$T/dl" "$mirror" \
            >"$DEB/debootstrap.log" 2>&1; then
            bad "debootstrap --make-tarball" "$(tail -5 "$DEB/debootstrap.log")"
            finish
            exit
        fi
        mv "$tarball.tmp" "$tarball"
        lap "tarball downloaded"
    fi
    if debootstrap --variant=minbase --include="$include" \
        --unpack-tarball="$(realpath "$tarball")" "$suite" "$C" "$mirror" \
        >"$DEB/debootstrap.log" 2>&1; then
        ok "debootstrap --variant=minbase $suite from the cached tarball ($(echo "$include" | tr ',' ' ' | wc -w) packages included)"
    else
        bad "debootstrap" "$(tail -5 "$DEB/debootstrap.log")"
        finish
        exit
    fi
    # Without the downloaded .debs (they are in the tarball): 100 MB less.
    rm -f "$C"/var/cache/apt/archives/*.deb
    tar -C "$C" -cf "$base.tmp" . && mv "$base.tmp" "$base"
fi
lap "chroot made"

# Commands run in the chroot in their own mount namespace, so /proc and
# /dev/kvm, mounted there, vanish with it whatever happens. The chroot
# becomes that namespace's root with pivot_root, not chroot(2): in a
# chroot the kernel refuses user namespaces, so the zygote could not
# isolate the jobs as it does on a real system.
in_chroot() {
    unshare --mount --propagation private sh -c '
        c=$1
        shift
        mount --bind "$c" "$c" || exit 1
        mount -t proc proc "$c/proc" || exit 1
        if [ -c /dev/kvm ]; then
            touch "$c/dev/kvm" && mount --bind /dev/kvm "$c/dev/kvm" || exit 1
        fi
        mkdir -p "$c/.old-root"
        cd "$c" && pivot_root . .old-root && umount -l /.old-root || exit 1
        exec /usr/sbin/chroot / /usr/bin/env -i \
            PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root "$@"
    ' _ "$C" "$@"
}
mkdir -p "$C/tmp/pkg"
cp "${debs[@]}" "$C/tmp/pkg/"
if in_chroot dpkg -i /tmp/pkg/tincan_"$version"_amd64.deb \
    /tmp/pkg/libtincan0_"$version"_amd64.deb \
    /tmp/pkg/libtincan-dev_"$version"_amd64.deb \
    /tmp/pkg/tincan-sdk_"$version"_amd64.deb >"$DEB/dpkg.log" 2>&1; then
    ok "dpkg -i of the four packages into the chroot: their dependencies are there"
else
    bad "dpkg -i" "$(tail -8 "$DEB/dpkg.log")"
fi

out=$(in_chroot tincan --version 2>&1)
# As root in a root of its own, the installed zygote takes every step.
if [ "$(echo "$out" | head -1)" = "tincan $version (guest ABI $abi)" ] &&
    ! grep -q refused <<<"$out"; then
    ok "chroot: tincan --version: $(echo "$out" | tail -n +2 | tr '\n' '|')"
else
    bad "chroot: tincan --version" "$out"
fi

# tincan run on a guest the package build made, on the default backend and
# on the emulator.
cp "$src/build/guests/hello_once.bin" "$src/build/guests/fib.elf" "$C/tmp/"
for backend in auto emu; do
    out=$(in_chroot tincan run --backend $backend /tmp/hello_once.bin 2>"$T/err")
    rc=$?
    if [ $rc = 0 ] && [ "$out" = "Hello, World!" ]; then
        ok "chroot: tincan run --backend $backend hello_once.bin prints Hello, World!"
    else
        bad "chroot: tincan run --backend $backend" "exit $rc, '$out', stderr: $(cat "$T/err")"
    fi
done
printf 12 >"$C/tmp/n"
out=$(in_chroot tincan run --json --backend emu --input /tmp/n /tmp/fib.elf 2>&1)
case $out in
*'"status":"ok"'*'"backend":"emu"'*) ok "chroot: tincan run --json of an ELF guest with input" ;;
*) bad "chroot: fib.elf" "$out" ;;
esac

# A C program against the installed library, with pkg-config.
cat >"$C/tmp/demo.c" <<'EOF'
#include <stdio.h>
#include <tincan.h>

int main(void)
{
    static const unsigned char code[] = {0xb0, 0x41, 0xe6, 0x10, 0xf4};
    struct tc_job job;
    struct tc_result res;

    tc_job_init(&job);
    job.code = code;
    job.code_len = sizeof(code);
    job.backend = TC_BACKEND_EMU;
    if (tc_run(&job, &res) != 0) {
        printf("refused: %s\n", res.message);
        return 1;
    }
    printf("%s %.*s abi %u\n", tc_status_name(res.status), (int)res.output_len,
           (const char *)res.output, tc_abi_version());
    tc_result_free(&res);
    return 0;
}
EOF
out=$(in_chroot sh -c 'cd /tmp && cc -Wall -Werror -o demo demo.c \
    $(pkg-config --cflags --libs tincan) && ./demo && ldd ./demo' 2>&1)
case $out in
"ok A abi $abi"*"libtincan.so.0 => "*"/x86_64-linux-gnu/libtincan.so.0 "*)
    ok "chroot: cc \$(pkg-config --cflags --libs tincan) builds a program that runs a job" ;;
*) bad "chroot: C program" "$out" ;;
esac

# A guest with the installed SDK.
cat >"$C/tmp/guest.c" <<'EOF'
#include "tincan_guest.h"

int main(const unsigned char *input, unsigned long len)
{
    (void)input;
    tc_printf("guest got %lu bytes\n", len);
    return 3;
}
EOF
out=$(in_chroot sh -c 'cd /tmp && tincan-cc -O2 -Wall -Werror -o guest.bin guest.c &&
    tincan run --backend emu --input n guest.bin; echo "exit $?"' 2>&1)
if [ "$out" = "guest got 2 bytes"$'\n'"exit 3" ]; then
    ok "chroot: a guest built with tincan-cc and the installed SDK runs"
else
    bad "chroot: SDK guest" "$out"
fi

# Purging the packages removes every file they installed.
in_chroot dpkg -L tincan libtincan0 libtincan-dev tincan-sdk 2>/dev/null |
    sort -u >"$T/owned"
if in_chroot dpkg --purge tincan-sdk libtincan-dev tincan libtincan0 \
    >"$DEB/purge.log" 2>&1; then
    left=$(while read -r f; do
        [ -d "$C$f" ] && continue # /usr, /lib (a symlink): not the packages'
        [ -e "$C$f" ] || [ -L "$C$f" ] && echo "$f"
    done <"$T/owned")
    if [ -z "$left" ]; then
        ok "dpkg --purge removes the $(wc -l <"$T/owned") paths the packages owned"
    else
        bad "dpkg --purge" "left: $(echo $left)"
    fi
else
    bad "dpkg --purge" "$(tail -5 "$DEB/purge.log")"
fi
lap "done"
finish
