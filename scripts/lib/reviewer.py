#!/usr/bin/python3
"""A prosecutor's reviewer, for scripts/run-exchange.

  reviewer.py facts                  < review.jsonl   > facts.csv
  reviewer.py decisions review.jsonl < reviewed.jsonl > decisions.csv

`facts` reads the review queue (`cjxctl -j review`: JSON Lines of
cjx.v1.Case) and writes, for every HUMAN_REVIEW case, the facts DOJ's rules
said were missing, as a reviewer would find them in the case file. The
file is synthetic and reproducible: each value follows from the CII, with
quantities and ages spread over the range the rules tell apart.

`decisions` reads what the daemon's rule set makes of those facts
(`cjxctl -j review --facts facts.csv`) and writes the decisions the
reviewer takes: no challenge with the relief the facts lead to, a challenge
(criteria not met) where they lead to none, and no challenge with the
least relief where a fact is still missing. Each decision carries its facts.
A HUMAN_REVIEW case that lacks no fact is a question of law (a prior
dismissal, an unknown sentence): the reviewer, bound by the statute's
presumption that the person qualifies (HS 11361.8(b), (f)), accepts the most
relief DOJ's rules allow.
"""
import csv
import hashlib
import json
import sys

FACTS = [
    "grams", "concentrated", "plants", "sale_involved", "recipient_age",
    "compensation", "sold_to_minor", "hired_minor_age", "import_export_grams",
    "environmental_violation", "school_grounds", "transport_only",
]
CAMEL = {f: f.split("_")[0] + "".join(w.title() for w in f.split("_")[1:])
         for f in FACTS}


def found_in_file(cii, fact):
    """The value a reviewer reads in the file: reproducible per case."""
    h = int(hashlib.sha256((cii + fact).encode()).hexdigest()[:8], 16)
    if fact in ("grams", "import_export_grams"):
        return [8, 20, 27, 45, 120, 900][h % 6]
    if fact == "plants":
        return h % 9
    if fact in ("recipient_age", "hired_minor_age"):
        return [16, 19, 24, 35, 52][h % 5]
    # Yes/no facts are mostly "no", as they were in the pilot counties.
    return "true" if h % 10 == 0 else "false"


def key_cells(key):
    return [key["cii"], key["courtCaseNumber"], str(key.get("countNumber", 0))]


def facts():
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["cii", "court_case_number", "count"] + FACTS)
    for line in sys.stdin:
        case = json.loads(line)
        if case.get("relief") != "RELIEF_HUMAN_REVIEW":
            continue
        missing = case.get("determination", {}).get("missingFacts", [])
        wanted = {m.rsplit(".", 1)[-1] for m in missing}
        if not wanted & set(FACTS):
            continue
        row = key_cells(case["key"])
        for f in FACTS:
            row.append(found_in_file(case["key"]["cii"], f)
                       if f in wanted else "")
        out.writerow(row)


GRANTS = ["RELIEF_REDUCE_TO_MISDEMEANOR", "RELIEF_REDUCE_TO_INFRACTION",
          "RELIEF_DISMISS_AND_SEAL"]


def decisions():
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["cii", "court_case_number", "count", "relief", "ground",
                  "reason_code"] + FACTS)
    for line in sys.stdin:
        r = json.loads(line)
        det = r.get("determination") or {}
        relief, ground, reason = det.get("relief", ""), "", ""
        if relief == "RELIEF_HUMAN_REVIEW":
            relief = det.get("floor", "")
        if relief not in GRANTS:
            relief, ground = "", "criteria_not_met"
            reason = (det.get("reasonCodes") or ["CRITERIA_NOT_MET"])[0]
        found = r.get("facts") or {}
        row = key_cells(r["key"]) + [relief.replace("RELIEF_", "").lower(),
                                     ground, reason]
        for f in FACTS:
            v = found.get(CAMEL[f], "")
            row.append(str(v).lower() if isinstance(v, bool) else v)
        out.writerow(row)
    with open(sys.argv[2], encoding="utf-8") as queue:
        for line in queue:
            case = json.loads(line)
            det = case.get("determination", {})
            missing = {m.rsplit(".", 1)[-1] for m in det.get("missingFacts", [])}
            if case.get("relief") != "RELIEF_HUMAN_REVIEW" or missing & set(FACTS):
                continue
            relief = det.get("ceiling", "")
            if relief not in GRANTS:
                continue
            out.writerow(key_cells(case["key"]) +
                         [relief.replace("RELIEF_", "").lower(), "", ""] +
                         [""] * len(FACTS))


if __name__ == "__main__":
    {"facts": facts, "decisions": decisions}[sys.argv[1]]()
