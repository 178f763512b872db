#!/usr/bin/python3
"""Writes the cases of tests/data/report/cases.jsonl: cjx.v1.Case JSON Lines
(as `cjxctl --json cases` prints them) for five counties over the first
quarter of 2026, at every stage of the exchange, some past their deadlines.
Deterministic; run it again only to change the fixture."""
import json
import random
import sys
from datetime import datetime, timedelta, timezone

COUNTIES = [("Los Angeles", 120), ("Alameda", 60), ("Yolo", 25),
            ("San Francisco", 45), ("Humboldt", 15)]
STATES = ["CASE_STATE_NOTIFIED", "CASE_STATE_NOT_CHALLENGED", "CASE_STATE_CHALLENGED",
          "CASE_STATE_ORDERED", "CASE_STATE_HISTORY_UPDATED"]
ORDERS = ["ORDER_RELIEF_DISMISS_AND_SEAL", "ORDER_RELIEF_REDUCE_TO_MISDEMEANOR",
          "ORDER_RELIEF_REDUCE_TO_INFRACTION", "ORDER_RELIEF_DENIED"]


def us(t):
    return str(int(t.timestamp() * 1_000_000))


def main():
    rnd = random.Random(1706)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    out = sys.stdout
    n = 0
    for county, count in COUNTIES:
        for _ in range(count):
            n += 1
            ident = start + timedelta(days=rnd.randint(0, 60), hours=rnd.randint(0, 20))
            notified = ident + timedelta(hours=rnd.randint(1, 30))
            stage = rnd.choices(range(5), weights=[3, 2, 1, 2, 3])[0]
            times = {"identifiedAtUnixUs": us(ident), "notifiedAtUnixUs": us(notified)}
            review_by = notified + timedelta(days=30)
            deadlines = {"reviewByUnixUs": us(review_by)}
            case = {"key": {"cii": "C%08d" % n, "courtCaseNumber": "R-%d" % n, "countNumber": 1},
                    "county": county, "state": STATES[stage],
                    "relief": "RELIEF_DISMISS_AND_SEAL", "version": "1"}
            t = notified
            if stage >= 1:
                t = t + timedelta(days=rnd.randint(2, 45))
                times["decidedAtUnixUs"] = us(t)
                case["decision"] = ("DECISION_KIND_CHALLENGE" if stage == 2
                                    else "DECISION_KIND_NO_CHALLENGE")
                deadlines["orderByUnixUs"] = us(t + timedelta(days=20))
            if stage >= 3:
                t = t + timedelta(days=rnd.randint(3, 30))
                times["orderedAtUnixUs"] = us(t)
                case["order"] = rnd.choice(ORDERS)
                deadlines["historyUpdateByUnixUs"] = us(t + timedelta(days=10))
            if stage >= 4:
                t = t + timedelta(days=rnd.randint(1, 20))
                times["historyUpdatedAtUnixUs"] = us(t)
            case["times"] = times
            case["deadlines"] = deadlines
            out.write(json.dumps(case) + "\n")


if __name__ == "__main__":
    main()
