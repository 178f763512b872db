#!/bin/sh
# cjxctl eval, the dry run a new user starts with: what it prints for the
# examples (golden file), its JSON for scripts, and its errors.
# Usage: test_cjxctl_eval.sh CJXCTL SOURCE_DIR
set -eu
cjxctl=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$src"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# People's output, compared with the golden file.
{
    "$cjxctl" eval --as-of 2026-01-01 --rules rules examples/records.jsonl
    "$cjxctl" eval --as-of 2026-01-01 --rules rules examples/record.json
    "$cjxctl" eval --as-of 2026-01-01 --rules rules examples/queries.jsonl
} >"$tmp/out.txt"
diff -u tests/data/cli/eval_examples.out "$tmp/out.txt" ||
    fail "cjxctl eval output differs from tests/data/cli/eval_examples.out"

# JSON Lines: one EvaluateResponse per count, readable by another parser.
"$cjxctl" --json eval --as-of 2026-01-01 --rules rules examples/queries.jsonl >"$tmp/out.jsonl"
/usr/bin/python3 - "$tmp/out.jsonl" <<'PY' || fail "JSON output"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
reliefs = [r["determination"]["relief"] for r in rows]
# Two pre-Act priors cannot settle "prior convictions under subdivision (b)".
assert reliefs == ["RELIEF_HUMAN_REVIEW"] + ["RELIEF_NOT_ELIGIBLE"] * 2, reliefs
assert rows[0]["determination"]["reasonCodes"][0] == "PRIORS_SUBDIVISION_UNSETTLED"
PY

# A bad line is reported with its file, line and field; the exit status says so.
head -n 1 examples/records.jsonl >"$tmp/bad.jsonl"
echo '{"subject":{"cii":"X1"},"countNumber":"two"}' >>"$tmp/bad.jsonl"
if "$cjxctl" eval --rules rules "$tmp/bad.jsonl" >"$tmp/o" 2>"$tmp/e"; then
    fail "a bad line did not fail"
fi
grep -q "bad.jsonl:2: " "$tmp/e" || fail "no file:line in: $(cat "$tmp/e")"
grep -q "countNumber" "$tmp/e" || fail "field not named in: $(cat "$tmp/e")"

# A broken rule file is refused with file:line:col.
mkdir "$tmp/rules"
printf 'name: x\nversion: "1"\nmessage: cjx.v1.ReliefQuery\nvalidations:\n  - id: v\n    rule: record.nope == 1\n    message: m\n' \
    >"$tmp/rules/x.yaml"
if "$cjxctl" eval --rules "$tmp/rules" examples/record.json >"$tmp/o" 2>"$tmp/e"; then
    fail "a broken rule file was accepted"
fi
grep -q "x.yaml:6:" "$tmp/e" || fail "no file:line:col in: $(cat "$tmp/e")"
echo "cjxctl eval: 4 passed, 0 failed"
