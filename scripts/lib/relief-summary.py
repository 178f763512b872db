#!/usr/bin/python3
"""Relief on the records, for scripts/run-exchange.

Reads, on standard input, JSON Lines of cjx.v1.StoredRecord (as `cjxctl -j
list` prints them) and, from the file named by the first argument, the JSON
of cjx.v1.CaseStatsResponse (`cjxctl -j cases stats`). Prints one line: the
records redesignated to a misdemeanor, to an infraction, and dismissed and
sealed, with the orders of each kind among the cases; exits 1 when a record
count differs from its orders.
"""
import collections
import json
import sys

KINDS = [
    ("ORDER_RELIEF_REDUCE_TO_MISDEMEANOR", "to misdemeanor"),
    ("ORDER_RELIEF_REDUCE_TO_INFRACTION", "to infraction"),
    ("ORDER_RELIEF_DISMISS_AND_SEAL", "dismissed+sealed"),
    ("ORDER_RELIEF_DENIED", "denied"),
]


def main():
    name = sys.argv[2] if len(sys.argv) > 2 else ""
    on_record = collections.Counter()
    records = 0
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        records += 1
        rec = json.loads(line).get("record", {})
        history = rec.get("reliefHistory", [])
        if history:
            kind = history[-1].get("relief", "")
            if kind == "ORDER_RELIEF_DISMISS_AND_SEAL" and not rec.get("sealed"):
                kind = "DISMISSED_NOT_SEALED"
            on_record[kind] += 1
    with open(sys.argv[1], encoding="utf-8") as f:
        stats = json.load(f)
    ordered = collections.Counter()
    for c in stats.get("counts", []):
        if c.get("order"):
            ordered[c["order"]] += int(c.get("cases", 0))
    ok = on_record["DISMISSED_NOT_SEALED"] == 0
    cells = []
    for kind, label in KINDS:
        cells.append("%s %d/%d" % (label, on_record[kind], ordered[kind]))
        ok = ok and on_record[kind] == ordered[kind]
    print("%-14s %8d records; on the record/ordered: %s  %s"
          % (name, records, ", ".join(cells), "ok" if ok else "MISMATCH"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
