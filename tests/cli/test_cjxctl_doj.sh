#!/bin/sh
# cjxctl eval --format doj: a DOJ research file evaluated offline, every
# Prop 64 count and nothing else; the per-county result files; bad rows
# named by line, column and value; the reject file.
# Usage: test_cjxctl_doj.sh CJXCTL SOURCE_DIR
set -eu
cjxctl=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
gen=tools/gen-research-file/gen-research-file
passed=0

fail() {
    echo "FAIL: $*" >&2
    echo "cjxctl doj: $passed passed, 1 failed"
    exit 1
}

# A file of another seed than the committed sample, without its header and
# with CRLF line ends.
/usr/bin/python3 "$gen" --rows 3000 --seed 42 --no-header --crlf -o "$tmp/rf.csv"
"$cjxctl" --json eval --format doj --as-of 2026-01-01 --rules rules \
    "$tmp/rf.csv" >"$tmp/out.jsonl" 2>"$tmp/err" || fail "eval: $(cat "$tmp/err")"
# Counted independently: the convicted HS 11357-11360 counts, one per
# (subject, CNT_ORDER).
/usr/bin/python3 - "$tmp/rf.csv" "$tmp/out.jsonl" <<'PY' || fail "count of Prop 64 counts"
import csv, json, re, sys
want = set()
with open(sys.argv[1], newline="", encoding="latin-1") as f:
    for r in csv.reader(f):
        if r[42] != "COURT ACTION" or not r[80].startswith("CONVICTED"):
            continue
        text = r[54] if r[54] not in ("", "SEE COMMENT FOR CHARGE") else r[93]
        head = text.split("-")[0].strip()
        sec = re.sub(r"\(.*", "", head.split(" ")[0].split("/")[-1])
        code = head.split(" ")[-1]
        if sec in ("11357", "11358", "11359", "11360") and code in ("HS", "PC"):
            want.add((r[2], r[50]))
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), (len(got), len(want))
assert all("determination" in g for g in got)
PY
passed=$((passed + 1))

# Result files: one CSV per county with the documented header and one row
# per count, and a summary that adds up.
"$cjxctl" eval --format doj --as-of 2026-01-01 --rules rules --out "$tmp/out" \
    tests/data/doj/small.csv >/dev/null 2>"$tmp/err" || fail "eval --out: $(cat "$tmp/err")"
/usr/bin/python3 - "$tmp/out" docs/result-files.md <<'PY' || fail "result files"
import csv, glob, json, os, sys
documented = open(sys.argv[2]).read()
total = 0
csvs = sorted(glob.glob(os.path.join(sys.argv[1], "*.csv")))
assert len(csvs) >= 3, csvs
for path in csvs:
    rows = list(csv.DictReader(open(path, newline="")))
    for col in rows[0].keys():
        assert "`%s`" % col in documented, "column %s not documented" % col
    county = rows[0]["county"]
    assert all(r["county"] == county for r in rows)
    summary = json.load(open(path[:-4] + ".summary.json"))
    assert summary["county"] == county
    assert summary["counts"] == len(rows), (summary, len(rows))
    assert sum(summary["by_relief"].values()) == len(rows)
    for r in rows:
        assert r["relief"] in ("NOT_ELIGIBLE", "REDUCE_TO_MISDEMEANOR", "REDUCE_TO_INFRACTION",
                               "DISMISS_AND_SEAL", "HUMAN_REVIEW"), r
        assert r["citations"], r
    total += len(rows)
assert total == 51, total
PY
passed=$((passed + 1))

# A bad value: the whole run fails and the error names line, column, value.
# (The names hold commas inside quotes: the row is rewritten by a CSV
# writer, not by splitting at commas.)
line=$(grep -n ",COURT ACTION," tests/data/doj/small.csv | head -1 | cut -d: -f1)
/usr/bin/python3 - tests/data/doj/small.csv "$line" "$tmp/bad2.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="latin-1")))
rows[int(sys.argv[2]) - 1][50] = "0010020X1000"
with open(sys.argv[3], "w", newline="", encoding="latin-1") as f:
    csv.writer(f, lineterminator="\n").writerows(rows)
PY
if "$cjxctl" eval --format doj --rules rules "$tmp/bad2.csv" >"$tmp/o" 2>"$tmp/e"; then
    fail "a bad CNT_ORDER did not fail"
fi
grep -q "bad2.csv: line $line, column CNT_ORDER, value \"0010020X1000\": not a count order of 12 digits" "$tmp/e" ||
    fail "no line/column/value in: $(cat "$tmp/e")"
passed=$((passed + 1))

# --reject-file: the bad subject's rows go there, the others are evaluated.
"$cjxctl" eval --format doj --rules rules --as-of 2026-01-01 --reject-file "$tmp/rej.csv" \
    "$tmp/bad2.csv" >"$tmp/o" 2>"$tmp/e" || fail "--reject-file: $(cat "$tmp/e")"
/usr/bin/python3 - "$tmp/bad2.csv" "$line" "$tmp/rej.csv" <<'PY' || fail "reject file"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="latin-1")))
subject = rows[int(sys.argv[2]) - 1][2]
rejected = list(csv.reader(open(sys.argv[3], newline="", encoding="latin-1")))
assert rejected == [r for r in rows if r[2] == subject], "not exactly the subject's rows"
PY
passed=$((passed + 1))

# Garbage is refused with a line number, never a crash.
/usr/bin/python3 -c 'import random, sys; r = random.Random(5)
sys.stdout.buffer.write(bytes(r.choice(b",\"\r\n\xef\xbb\xbf\xd1aZ09") for _ in range(20000)))' >"$tmp/noise.csv"
set +e
"$cjxctl" eval --format doj --rules rules "$tmp/noise.csv" >/dev/null 2>"$tmp/e"
rc=$?
set -e
test "$rc" = 1 || fail "noise: exit $rc"
grep -q "line [0-9]" "$tmp/e" || fail "noise: no line in $(cat "$tmp/e")"
passed=$((passed + 1))
echo "cjxctl doj: $passed passed, 0 failed"
