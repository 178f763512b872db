#!/bin/sh
# `cmake --install` into a fresh prefix puts every file where Debian expects
# it: the programs, the manual pages (which must render without warnings),
# the systemd unit and its snippets, the rule sets and the bash completion.
# Usage: check-install.sh BUILD_DIR SOURCE_DIR
set -u
build=$1
src=$2
prefix=$(mktemp -d "${TMPDIR:-/tmp}/cjx-install-XXXXXX")
trap 'rm -rf "$prefix"' EXIT
failures=0

fail()
{
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

if ! cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1; then
    cat "$prefix.log" >&2
    rm -f "$prefix.log"
    echo "FAIL: cmake --install" >&2
    exit 1
fi
rm -f "$prefix.log"

for f in bin/cjxctl sbin/cjxd; do
    [ -x "$prefix/$f" ] || fail "$f is not an installed program"
done
"$prefix/sbin/cjxd" --help >/dev/null 2>&1 || fail "installed cjxd does not run"
"$prefix/bin/cjxctl" --help >/dev/null 2>&1 || fail "installed cjxctl does not run"

# The same bytes as the source, where the file is installed as it is.
same()
{
    if [ ! -f "$prefix/$2" ]; then
        fail "$2 is missing"
    elif ! cmp -s "$src/$1" "$prefix/$2"; then
        fail "$2 differs from $1"
    fi
}
same man/cjxd.8 share/man/man8/cjxd.8
same man/cjxctl.1 share/man/man1/cjxctl.1
same man/cjxd.conf.5 share/man/man5/cjxd.conf.5
same man/cjx-rules.5 share/man/man5/cjx-rules.5
same systemd/cjxd.service lib/systemd/system/cjxd.service
same systemd/cjxd.sysusers lib/sysusers.d/cjxd.conf
same systemd/cjxd.tmpfiles lib/tmpfiles.d/cjxd.conf
same completion/cjxctl share/bash-completion/completions/cjxctl
for r in "$src"/rules/*.yaml; do
    same "rules/$(basename "$r")" "share/cjx/rules/$(basename "$r")"
done

# Every page renders, and groff finds nothing to warn about.
for page in "$prefix"/share/man/man*/*; do
    out=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$out" ] || fail "$(basename "$page"): $out"
done

# The unit starts the program where it was installed.
grep -q '^ExecStart=/usr/sbin/cjxd ' "$prefix/lib/systemd/system/cjxd.service" ||
    fail "the unit does not start /usr/sbin/cjxd"

# The installed rule sets load: cjxctl eval dry-runs one record with them.
if ! "$prefix/bin/cjxctl" eval --rules "$prefix/share/cjx/rules" \
    "$src/examples/queries.jsonl" >/dev/null 2>&1; then
    fail "cjxctl eval cannot use the installed rule sets"
fi

if [ "$failures" -gt 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "install: every file in place"
