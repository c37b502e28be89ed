#!/usr/bin/env bash
# tests/pkg/units.sh - the systemd units as installed: `systemd-analyze
# verify` says nothing about them (no unknown directive, a bad value, a
# missing executable or man page in Documentation=), each one runs the
# installed tincan as a dynamic user with /dev/kvm as its only device, and
# every hardening directive has a comment above its group. A unit with a
# mistake in it makes verify speak (so the check can fail).
. "$(dirname "$0")/../integration/lib.sh" units

if ! command -v systemd-analyze >/dev/null; then
    # Debian's systemd package ships it; scripts/install-deps installs it.
    bad "systemd-analyze" "not installed: run scripts/install-deps"
    finish
    exit
fi
P=$T/prefix
make -s BUILD="$BUILD" ${SAN:+SAN=1} install PREFIX="$P" LDCONFIG=: >"$T/make.log" 2>&1 ||
    bad "make install" "$(tail -3 "$T/make.log")"
U=$P/lib/systemd/system
units=("$U"/tincan-serve.service "$U"/tincan-worker@.service)
for u in "${units[@]}"; do
    name=$(basename "$u")
    if [ ! -f "$u" ]; then
        bad "$name" "not installed"
        continue
    fi
    out=$(MANPATH=$P/share/man systemd-analyze verify "$u" 2>&1)
    rc=$?
    if [ $rc = 0 ] && [ -z "$out" ]; then
        ok "systemd-analyze verify $name: clean"
    else
        bad "$name" "verify exit $rc: $out"
    fi
    cmd=$(sed -n 's/^ExecStart=\([^ ]*\) \([a-z]*\).*/\1 \2/p' "$u")
    case $name in
    tincan-serve*) want="$P/bin/tincan serve" ;;
    *) want="$P/bin/tincan worker" ;;
    esac
    [ "$cmd" = "$want" ] && ok "$name runs $want" ||
        bad "$name" "ExecStart runs '$cmd', want '$want'"
    for d in DynamicUser=yes SupplementaryGroups=kvm DevicePolicy=closed \
        'DeviceAllow=/dev/kvm rw' ProtectSystem=strict PrivateTmp=yes \
        NoNewPrivileges=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' \
        SystemCallArchitectures=native CapabilityBoundingSet=; do
        grep -qx "$d" "$u" || bad "$name" "lacks $d"
    done
    ok "$name: dynamic user, /dev/kvm only, strict, native syscalls"
    # A directive group without a comment above it is unexplained.
    unexplained=$(awk '
        /^\[Service\]/ { svc = 1; prev = "#"; next }
        /^\[/ { svc = 0 }
        svc && /^[A-Z]/ && prev == "" { print FNR ": " $0 }
        { prev = ($0 ~ /^#/) ? "#" : ($0 ~ /^$/ ? "" : prev) }' "$u")
    [ -z "$unexplained" ] && ok "$name: every directive group has its comment" ||
        bad "$name" "no comment above: $unexplained"
done
# A unit with an unknown key and a missing executable: verify must say so.
sed -e 's/^NoNewPrivileges=yes/NoNewPrivileges=yes\nProtectEverything=yes/' \
    -e "s|^ExecStart=$P/bin/tincan|ExecStart=$T/nowhere/tincan|" \
    "$U/tincan-serve.service" >"$T/tincan-broken.service"
out=$(MANPATH=$P/share/man systemd-analyze verify "$T/tincan-broken.service" 2>&1)
if [[ $out == *ProtectEverything* && $out == *nowhere/tincan* ]]; then
    ok "verify reports a unit's unknown key and missing executable"
else
    bad "verify of a broken unit" "said: $out"
fi
finish
