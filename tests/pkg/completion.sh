#!/usr/bin/env bash
# tests/pkg/completion.sh - bash completion of tincan, through
# bash-completion as a shell loads it: commands, each command's options,
# the values of --backend and --format, files and directories for operands
# and FILE/DIR values. Commands and options are read from --help, so a new
# command or option completes without touching the script.
. "$(dirname "$0")/../integration/lib.sh" completion

BC=/usr/share/bash-completion/bash_completion
if [ ! -r "$BC" ]; then
    bad "bash-completion" "$BC is missing: run scripts/install-deps"
    finish
    exit
fi
mkdir -p "$T/w/suite" && touch "$T/w/jobs.jsonl" "$T/w/code.bin"
bin=$(cd "$BUILD" && pwd)
# case EXPECTED WORDS...: completes the last word, compares COMPREPLY.
case_() {
    local want=$1 got
    shift
    got=$(cd "$T/w" && PATH=$bin:$PATH bash -c '
        . "$1"; . "$2"; shift 2
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _tincan tincan "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        ((${#COMPREPLY[@]})) && printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "' _ "$BC" \
        "$OLDPWD/dist/tincan.bash-completion" "$@")
    if [ "$got" = "$want" ]; then
        ok "'$*' completes to: $got"
    else
        bad "'$*'" "got '$got', want '$want'"
    fi
}
# Every command tincan --help names, and the two options.
cmds=$("$BUILD/tincan" --help | sed -nE 's/^(usage:)? +tincan ([a-z][a-z0-9-]*)( .*)?$/\2/p' |
    sort -u | tr '\n' ' ')
case "$cmds" in
*batch*check*run*) case_ "--help --version $cmds" tincan "" ;;
*) bad "commands" "tincan --help names only: $cmds" ;;
esac
case_ "batch " tincan ba
case_ "--backend " tincan run --ba
case_ "auto emu kvm " tincan run --backend ""
case_ "auto elf raw " tincan run --format ""
case_ "--jobs --junit " tincan check --j
case_ "-j " tincan batch -j
case_ "--max-fetch --max-insns --max-output --max-stderr --mem " tincan run --m
case_ "suite " tincan check ""
case_ "code.bin jobs.jsonl suite " tincan run ""
case_ "jobs.jsonl " tincan batch j
case_ "suite " tincan run --cache-dir ""
case_ "code.bin jobs.jsonl suite " tincan check --junit ""
case_ "" tincan run --timeout ""
case_ "code.bin jobs.jsonl suite " tincan fuzz --corpus suite ""
case_ "suite " tincan fuzz --corpus ""
case_ "dead requeue status " tincan queue --redis redis://h ""
case_ "--claim-idle " tincan worker --cl
case_ "--redis " tincan batch --red
finish
