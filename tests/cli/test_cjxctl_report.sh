#!/bin/sh
# cjxctl report: the progress report's numbers against a count made
# independently from the same cases, and its HTML page rendered by headless
# Chromium: not blank, its charts drawn, the county names on the page.
# Usage: test_cjxctl_report.sh CJXCTL SOURCE_DIR
set -eu
cjxctl=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
cases=tests/data/report/cases.jsonl
passed=0

fail() {
    echo "FAIL: $*" >&2
    echo "cjxctl report: $passed passed, 1 failed"
    exit 1
}

# CSV: each county's numbers, counted here from the cases themselves.
"$cjxctl" report --cases "$cases" --from 2026-01-01 --to 2026-03-31 >"$tmp/r.csv" ||
    fail "report --format csv"
/usr/bin/python3 - "$cases" "$tmp/r.csv" <<'PY' || fail "CSV numbers"
import csv, json, sys
from datetime import datetime, timezone
lo = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp() * 1e6
hi = datetime(2026, 4, 1, tzinfo=timezone.utc).timestamp() * 1e6
want = {}
for line in open(sys.argv[1]):
    c = json.loads(line)
    w = want.setdefault(c["county"], {"cases": 0, "notified": 0, "challenged": 0,
                                      "records_updated": 0, "overdue_review": 0})
    t, d = c["times"], c["deadlines"]
    inp = lambda k: k in t and lo <= int(t[k]) < hi
    w["cases"] += 1
    w["notified"] += inp("notifiedAtUnixUs")
    w["challenged"] += inp("decidedAtUnixUs") and c.get("decision") == "DECISION_KIND_CHALLENGE"
    w["records_updated"] += inp("historyUpdatedAtUnixUs")
    by = int(d.get("reviewByUnixUs", 0))
    done = int(t.get("decidedAtUnixUs", 0))
    w["overdue_review"] += by != 0 and by < hi and (done == 0 or done > by)
got = {r["county"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert set(got) == set(want) | {"All counties"}, sorted(got)
for county, w in want.items():
    for k, v in w.items():
        assert int(got[county][k]) == v, (county, k, got[county][k], v)
assert int(got["All counties"]["cases"]) == sum(w["cases"] for w in want.values())
PY
passed=$((passed + 1))

# JSON: the same numbers for scripts.
"$cjxctl" report --cases "$cases" --from 2026-01-01 --to 2026-03-31 --format json >"$tmp/r.json" ||
    fail "report --format json"
/usr/bin/python3 - "$tmp/r.json" "$tmp/r.csv" <<'PY' || fail "JSON numbers"
import csv, json, sys
j = json.load(open(sys.argv[1]))
rows = {r["county"]: r for r in csv.DictReader(open(sys.argv[2]))}
assert j["from"] == "2026-01-01" and j["to"] == "2026-03-31", j["from"]
assert len(j["throughput"]["review"]) == 13
for c in j["counties"]:
    r = rows[c["county"]]
    assert c["cases"] == int(r["cases"]) and c["overdue"]["order"] == int(r["overdue_order"])
    assert c["median_days"]["review"] == int(r["median_days_review"])
PY
passed=$((passed + 1))

# HTML, rendered: not blank, the bars and lines in their colours, and every
# county named on the page as the browser laid it out.
"$cjxctl" report --cases "$cases" --from 2026-01-01 --to 2026-03-31 --format html \
    -o "$tmp/r.html" || fail "report --format html"
chromium=$(command -v chromium || true)
test -n "$chromium" || fail "no chromium (scripts/install-deps installs it)"
browse() {
    timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --user-data-dir="$tmp/profile" --window-size=1000,1500 "$@" "file://$tmp/r.html" \
        2>"$tmp/chromium.err"
}
browse --screenshot="$tmp/r.png" >/dev/null || fail "chromium: $(tail -3 "$tmp/chromium.err")"
/usr/bin/python3 tests/cli/png_check.py "$tmp/r.png" 0.03 \
    "#6baed6" "#31a354" "#e6550d" "#756bb1" "#08519c" || fail "the screenshot"
browse --dump-dom >"$tmp/dom.html" || fail "chromium --dump-dom"
for county in "Los Angeles" Alameda Yolo "San Francisco" Humboldt; do
    grep -q ">$county</text>" "$tmp/dom.html" || fail "$county not in the chart"
done
grep -q "<polyline" "$tmp/dom.html" || fail "no throughput lines"
passed=$((passed + 1))

# A case file that does not read names its line.
printf '{"county": "Yolo"}\n{"county": 7}\n' >"$tmp/bad.jsonl"
if "$cjxctl" report --cases "$tmp/bad.jsonl" >/dev/null 2>"$tmp/e"; then
    fail "a bad case file was accepted"
fi
grep -q "bad.jsonl:2: " "$tmp/e" || fail "no file:line in: $(cat "$tmp/e")"
passed=$((passed + 1))
echo "cjxctl report: $passed passed, 0 failed"
