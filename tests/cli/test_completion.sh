#!/bin/bash
# The bash completion of cjxctl: every command cjxctl lists in its help is
# offered, and a command's options follow it.
# Usage: test_completion.sh CJXCTL SOURCE_DIR
set -u
cjxctl=$1
src=$2
failures=0

# shellcheck source=/dev/null
source "$src/completion/cjxctl" || exit 1

# Completes the words given (the last one being the word under the cursor)
# and prints the candidates sorted, one per line.
complete_words()
{
    COMP_WORDS=(cjxctl "$@")
    COMP_CWORD=$#
    COMPREPLY=()
    _cjxctl
    printf '%s\n' "${COMPREPLY[@]}" | sort
}

expect()
{
    local want=$1
    shift
    local got
    got=$(complete_words "$@" | tr '\n' ' ' | sed 's/ $//')
    if [[ $got != "$want" ]]; then
        echo "FAIL: cjxctl $* <TAB>: got '$got', want '$want'" >&2
        failures=$((failures + 1))
    fi
}

# Every command of `cjxctl --help` (its lines "  name ..." under Commands).
commands=$("$cjxctl" --help | sed -n '/^Commands:/,/^Options:/p' |
    sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
[[ -n $commands ]] || { echo "FAIL: no commands in cjxctl --help" >&2; exit 1; }
offered=$(complete_words "")
for c in $commands; do
    if ! grep -qx -- "$c" <<<"$offered"; then
        echo "FAIL: command '$c' is not completed" >&2
        failures=$((failures + 1))
    fi
done
# And nothing cjxctl does not know.
for c in $offered; do
    if ! grep -qx -- "$c" <<<"$commands"; then
        echo "FAIL: '$c' is completed but is no command of cjxctl" >&2
        failures=$((failures + 1))
    fi
done

expect "outbox" out
expect "notify notify-person" noti
expect "--socket" --so
expect "export tail verify" -s /tmp/x.sock audit ""
expect "--agency --ca --file --trust-domain" audit verify --
expect "--after" -j audit export --a
expect "--cii --county --limit --overdue --overdue-for --state" cases --county SF --
expect "--check --county --position --wait" cases stats --
expect "--all --delivered --limit --parked --to" outbox --
expect "--applied --dry-run --file" ack --
expect "--contact-date" notify-person --co
expect "jsonl pb" notify --format ""
expect "" get A1 ""

if ((failures > 0)); then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "completion: all commands and options offered"
