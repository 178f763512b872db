#!/bin/sh
# Checks systemd/: `systemd-analyze verify` says nothing about cjxd.service,
# `systemd-analyze security --offline` rates its exposure at most MAX, and,
# as root, the sysusers and tmpfiles snippets apply cleanly to a scratch root.
# Needs no running systemd (works in a container as root).
#
# usage: check-unit.sh SYSTEMD_DIR CJXD_BINARY [MAX_EXPOSURE]
set -eu

dir=$1
cjxd=$2
max=${3:-2.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify wants every command of the unit to exist: the copy runs the built one.
sed "s#/usr/sbin/cjxd#$cjxd#g" "$dir/cjxd.service" >"$tmp/cjxd.service"

# verify warns (unknown keys, bad values) without failing: any output fails.
if ! out=$(systemd-analyze verify --man=no "$tmp/cjxd.service" 2>&1); then
    printf 'systemd-analyze verify failed:\n%s\n' "$out"
    exit 1
fi
if [ -n "$out" ]; then
    printf 'systemd-analyze verify complained:\n%s\n' "$out"
    exit 1
fi

if ! sec=$(systemd-analyze security --offline=true "$tmp/cjxd.service" 2>&1); then
    printf 'systemd-analyze security failed:\n%s\n' "$sec"
    exit 1
fi
level=$(printf '%s\n' "$sec" |
    sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p')
if [ -z "$level" ]; then
    printf 'no "Overall exposure level" line:\n%s\n' "$sec"
    exit 1
fi
if ! awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
    echo "exposure level $level is above $max; what counts against it:"
    printf '%s\n' "$sec" | grep -v '✓' || true
    exit 1
fi
echo "verify: clean; exposure level $level (at most $max)"

if [ "$(id -u)" != 0 ]; then
    echo "not root: sysusers and tmpfiles snippets not applied"
    exit 0
fi
root=$tmp/root
mkdir -p "$root/etc"
systemd-sysusers --root="$root" "$dir/cjxd.sysusers" 2>&1
grep -q '^cjxd:x:[0-9]*:[0-9]*:.*:/var/lib/cjxd:/usr/sbin/nologin$' "$root/etc/passwd"
systemd-tmpfiles --root="$root" --create "$dir/cjxd.tmpfiles"
gid=$(awk -F: '$1 == "cjxd" { print $3 }' "$root/etc/group")
for d in etc/cjxd etc/cjxd/tls etc/cjxd/tls/crl; do
    # Numeric owners: this machine's user database has no cjxd.
    got=$(stat -c '%a %u %g' "$root/$d")
    if [ "$got" != "750 0 $gid" ]; then
        echo "$d: mode, uid and gid are '$got', expected '750 0 $gid' (root:cjxd)"
        exit 1
    fi
done
echo "sysusers and tmpfiles: applied"
