#!/usr/bin/env bash
# tests/pkg/man.sh - the man pages cannot drift from the binary. Every
# command `tincan --help` lists must have its page, tincan-CMD(1), listed in
# tincan(1); each page's OPTIONS must be exactly the options of `tincan CMD
# --help` (and tincan-cc(1) those of `tincan-cc --help`); tincan(3) names
# every function and status of api/tincan.h and no other; tincan-abi(7) has
# every port of tincan_abi.h with its number; every page renders without a
# groff warning. The commands come from --help, so a command added without
# its page fails here (proved against a stand-in tincan below).
. "$(dirname "$0")/../integration/lib.sh" man

# The source of page NAME.SECTION, beside the code (api/, guests/, guests/sdk/).
scd_of() {
    local d
    for d in api guests guests/sdk; do
        [ -f "$d/$1.scd" ] && echo "$d/$1.scd" && return
    done
    return 0
}

# The options on the option lines of `PROGRAM... --help`, one a line, sorted:
# "  -j, --jobs N   text" gives -j and --jobs, "  --a DIR, --b   text" --a
# and --b.
help_options() {
    "$@" --help 2>/dev/null | awk '
        /^  +-/ {
            line = $0
            sub(/^ +/, "", line)
            while (match(line, /^-[-a-zA-Z0-9]+/)) {
                print substr(line, 1, RLENGTH)
                line = substr(line, RLENGTH + 1)
                sub(/^ [^ ,]+/, "", line)   # its value: " N", " DIR"
                if (!sub(/^, /, "", line))
                    break
            }
        }' | sort -u
}

# The options a page's OPTIONS section (and its subsections) describes: the
# *-x* and *--name* items at the start of its lines.
page_options() {
    awk '
        /^# / { in_opts = ($0 == "# OPTIONS") }
        in_opts && /^\*-/ {
            line = $0
            while (match(line, /\*-[-a-zA-Z0-9]+\*/)) {
                print substr(line, RSTART + 1, RLENGTH - 2)
                line = substr(line, RSTART + RLENGTH)
            }
        }' "$1" | sort -u
}

# The commands of `BIN --help`: "tincan NAME" at the start of usage lines.
commands_of() {
    "$1" --help 2>/dev/null |
        sed -nE 's/^(usage:)? +tincan ([a-z][a-z0-9-]*)( .*)?$/\2/p' | sort -u
}

# compare_options NAME PAGE PROGRAM...: the page's options = the help's.
compare_options() {
    local name=$1 page=$2 only_help only_page
    shift 2
    help_options "$@" >"$T/help.opts"
    page_options "$page" >"$T/page.opts"
    if [ ! -s "$T/help.opts" ]; then
        bad "$name options" "'$* --help' lists no options"
        return
    fi
    only_help=$(comm -23 "$T/help.opts" "$T/page.opts" | tr '\n' ' ')
    only_page=$(comm -13 "$T/help.opts" "$T/page.opts" | tr '\n' ' ')
    if [ -n "$only_help" ]; then
        bad "$name options" "$page does not describe: $only_help"
    elif [ -n "$only_page" ]; then
        bad "$name options" "$page describes options $* lacks: $only_page"
    else
        ok "$name options ($(wc -l <"$T/help.opts") match $*)"
    fi
}

# check_commands BIN: every command of BIN has its page; prints one FAIL line
# per problem; returns the number of problems.
check_commands() {
    local bin=$1 cmd src n=0 main
    main=$(scd_of tincan.1)
    for cmd in $(commands_of "$bin"); do
        src=$(scd_of "tincan-$cmd.1")
        if [ -z "$src" ]; then
            echo "FAIL $cmd: 'tincan $cmd' has no man page: write api/tincan-$cmd.1.scd"
            n=$((n + 1))
            continue
        fi
        if ! grep -q "^\*$cmd\*\$" "$main"; then
            echo "FAIL $cmd: tincan(1) lists no *$cmd* under COMMANDS"
            n=$((n + 1))
        fi
        if ! grep -q "\*tincan-$cmd\*(1)" "$main"; then
            echo "FAIL $cmd: tincan(1) does not point to *tincan-$cmd*(1)"
            n=$((n + 1))
        fi
    done
    return $n
}

cmds=$(commands_of "$TINCAN")
if [ "$(echo "$cmds" | wc -w)" -lt 3 ]; then
    bad "commands" "tincan --help lists only: $cmds"
fi
if out=$(check_commands "$TINCAN"); then
    ok "every command has its page: $(echo $cmds)"
else
    bad "commands" "$out"
fi
# And --help lists every command the CLI dispatches (api/cli.c compares
# argv[1] with each name), so a command cannot hide from the check above.
dispatched=$(grep -E 'argv\[1\]' api/cli.c | grep -oE '"[a-z][a-z0-9-]*"' |
    tr -d '"' | grep -vx help | sort -u)
if [ -z "$dispatched" ]; then
    bad "dispatch" "found no argv[1] comparisons in api/cli.c: update this test"
else
    hidden=$(comm -23 <(echo "$dispatched") <(echo "$cmds") | tr '\n' ' ')
    [ -z "$hidden" ] && ok "tincan --help lists every command api/cli.c runs" ||
        bad "dispatch" "api/cli.c runs commands tincan --help does not list: $hidden"
fi
for cmd in $cmds; do
    src=$(scd_of "tincan-$cmd.1")
    [ -n "$src" ] && compare_options "tincan-$cmd(1)" "$src" "$TINCAN" "$cmd"
done

# A command without its page fails the check: a stand-in tincan whose
# --help has one more command.
cat >"$T/tincan" <<EOF
#!/bin/sh
"$PWD/$TINCAN" "\$@"
[ "\$1" = --help ] && echo "       tincan frobnicate [options] THING"
exit 0
EOF
chmod +x "$T/tincan"
if out=$(check_commands "$T/tincan"); then
    bad "a command without a page" "check_commands passed a tincan with 'frobnicate'"
elif [[ $out == *"'tincan frobnicate' has no man page"* ]]; then
    ok "a command without a page fails the check"
else
    bad "a command without a page" "unexpected: $out"
fi

# Option lines naming several options count each one.
printf '#!/bin/sh\nprintf "options:\\n  --allow-paths DIR, --allow-urls\\n%s\\n  -j, --jobs N  text\\n  --json        text, see --other\\n"\n' \
    "                    text" >"$T/stand-in"
chmod +x "$T/stand-in"
got=$(help_options "$T/stand-in" | tr '\n' ' ')
if [ "$got" = "--allow-paths --allow-urls --jobs --json -j " ]; then
    ok "an option line with several options counts each: $got"
else
    bad "help_options" "got '$got'"
fi

# tincan(1) itself: --version and --help.
for o in --version --help; do
    if page_options api/tincan.1.scd | grep -qx -- "$o"; then
        ok "tincan(1) describes $o"
    else
        bad "tincan(1)" "does not describe $o"
    fi
done

# tincan-cc(1) against the script's own --help.
compare_options "tincan-cc(1)" guests/sdk/tincan-cc.1.scd sh guests/sdk/tincan-cc.in

# tincan(3): the functions and statuses of the header, and only those.
grep -oE '\btc_[a-z_]+\(' api/tincan.h | tr -d '(' | sort -u >"$T/h.fn"
grep -oE '\btc_[a-z_]+\(' api/tincan.3.scd | tr -d '(' | sort -u >"$T/p.fn"
grep -oE '\bTC_[A-Z_]+\b' api/tincan.h | grep -vx 'TC_MESSAGE_MAX' |
    sort -u >"$T/h.const"
if [ "$(wc -l <"$T/h.fn")" -lt 10 ]; then
    bad "tincan(3)" "found only $(wc -l <"$T/h.fn") functions in api/tincan.h"
elif ! diff -u "$T/h.fn" "$T/p.fn" >"$T/fn.diff"; then
    bad "tincan(3) functions" "the page and api/tincan.h differ: $(grep '^[-+]tc' "$T/fn.diff" | tr '\n' ' ')"
else
    ok "tincan(3) documents the $(wc -l <"$T/h.fn") functions of tincan.h"
fi
missing=$(while read -r c; do grep -q "$c" api/tincan.3.scd || echo "$c"; done <"$T/h.const")
if [ -n "$missing" ]; then
    bad "tincan(3) constants" "not in the page: $(echo $missing)"
else
    ok "tincan(3) names the $(wc -l <"$T/h.const") TC_ constants of tincan.h"
fi

# tincan-abi(7): every port by name and number, the ABI version, the entry.
abi=guests/sdk/tincan_abi.h
page=guests/tincan-abi.7.scd
missing=
while read -r name value; do
    grep -q "\*$value\* (\*$name\*)" "$page" || missing="$missing $name=$value"
done < <(sed -nE 's/^#define (TINCAN_PORT_[A-Z_]+) +(0x[0-9a-fA-F]+).*/\1 \2/p' "$abi")
entry=$(sed -nE 's/^#define TINCAN_ENTRY +(0x[0-9a-fA-F]+).*/\1/p' "$abi")
version=$(sed -nE 's/^#define TINCAN_ABI_VERSION +([0-9]+).*/\1/p' "$abi")
grep -q "$entry (\*TINCAN_ENTRY\*)" "$page" || missing="$missing TINCAN_ENTRY=$entry"
grep -q "(version $version)" "$page" || missing="$missing version=$version"
if [ -n "$missing" ]; then
    bad "tincan-abi(7)" "missing or with another value:$missing"
else
    ok "tincan-abi(7) has every port, the entry and ABI version $version"
fi

# Every built page renders without groff warnings, and every source is built.
for src in api/*.scd guests/*.scd guests/sdk/*.scd; do
    page=$BUILD/man/$(basename "$src" .scd)
    if [ ! -s "$page" ]; then
        bad "$(basename "$page")" "not built: run make"
        continue
    fi
    warnings=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
    if [ -n "$warnings" ]; then
        bad "$(basename "$page")" "groff: $warnings"
    else
        ok "$(basename "$page") renders cleanly"
    fi
done
finish
