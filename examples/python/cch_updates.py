#!/usr/bin/python3
"""DOJ's criminal-history system (CCH) on the relief exchange.

Two feeds of DOJ's cjxd, each from a saved cursor:
- CaseService/WatchCases: for each court order that reached DOJ, the CCH
  applies it and acknowledges (CaseService/AcknowledgeHistoryUpdated), which
  rewrites DOJ's record of the count in the same step;
- RecordService/WatchRecords: every new version of a record, so the CCH
  sees relief land on it (relief history, level, sealed).
Prints one JSON line per acknowledgement and per record version.

    cch_updates.py --target unix:/run/cjxd/cjxd.sock \\
        --cases-cursor cases.cursor --records-cursor records.cursor

Generate the cjx.v1 modules first: protoc -I proto --python_out=GEN
proto/cjx/v1/*.proto, and put GEN on PYTHONPATH.
"""
import argparse
import json
import os
import sys
import threading

import grpc

from cjx.v1 import conviction_pb2 as cv
from cjx.v1 import exchange_pb2 as ex
from cjx.v1 import record_service_pb2 as rs

import cjx_channel

lock = threading.Lock()


def say(obj):
    with lock:
        print(json.dumps(obj), flush=True)


def acknowledge_orders(ch, cursor, follow):
    watch = ch.unary_stream(
        "/cjx.v1.CaseService/WatchCases",
        request_serializer=ex.WatchCasesRequest.SerializeToString,
        response_deserializer=ex.CaseChange.FromString)
    ack = ch.unary_unary(
        "/cjx.v1.CaseService/AcknowledgeHistoryUpdated",
        request_serializer=ex.HistoryUpdated.SerializeToString,
        response_deserializer=ex.CaseReply.FromString)
    for change in watch(ex.WatchCasesRequest(after_seq=cursor.seq, follow=follow)):
        case = change.snapshot
        if (change.event == ex.CASE_EVENT_KIND_RELIEF_ORDER
                and case.state == ex.CASE_STATE_ORDERED):
            # Here the CCH applies the order to its own history; then
            # DOJ's daemon records that it did.
            k = case.key
            h = ex.HistoryUpdated(applied=case.order)
            h.meta.request_id = f"ack:{k.cii}:{k.court_case_number}:{k.count_number}"
            h.key.CopyFrom(k)
            reply = ack(h, timeout=30)
            cursor.save(change.seq)
            # Reported once the cursor is past it: what is printed is done.
            say({"acknowledged": k.cii, "case": k.court_case_number,
                 "count": k.count_number,
                 "applied": cv.OrderRelief.Name(case.order),
                 "state": ex.CaseState.Name(reply.snapshot.state)})
        else:
            cursor.save(change.seq)


def follow_records(ch, cursor, follow):
    watch = ch.unary_stream(
        "/cjx.v1.RecordService/WatchRecords",
        request_serializer=rs.WatchRecordsRequest.SerializeToString,
        response_deserializer=rs.RecordChange.FromString)
    for change in watch(rs.WatchRecordsRequest(after_seq=cursor.seq, follow=follow)):
        rec = change.record.record
        cursor.save(change.seq)
        say({"record": rec.subject.cii, "case": rec.court_case_number,
             "count": rec.count_number, "version": change.record.version,
             "level": cv.OffenseLevel.Name(rec.level), "sealed": rec.sealed,
             "relief_history": [cv.OrderRelief.Name(e.relief)
                                for e in rec.relief_history]})


def until_it_ends(feed, ch, cursor):
    """Follows one feed; when its stream ends (the daemon drains or
    restarts), the whole program exits, for its supervisor to start it
    again from the saved cursors."""
    try:
        feed(ch, cursor, True)
    except grpc.RpcError as e:
        print(f"cch_updates: {feed.__name__}: {e.code().name}: {e.details()}",
              file=sys.stderr, flush=True)
    os._exit(1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cjx_channel.add_connection_args(p)
    p.add_argument("--cases-cursor", required=True)
    p.add_argument("--records-cursor", required=True)
    args = p.parse_args()
    cases = cjx_channel.Cursor(args.cases_cursor)
    records = cjx_channel.Cursor(args.records_cursor)
    with cjx_channel.channel(args.target, args.ca, args.cert, args.key) as ch:
        if args.catch_up:
            # Orders first, so that the records read next carry them.
            acknowledge_orders(ch, cases, False)
            follow_records(ch, records, False)
            return 0
        feeds = [threading.Thread(target=until_it_ends, args=(f, ch, c),
                                  daemon=True)
                 for f, c in ((acknowledge_orders, cases),
                              (follow_records, records))]
        for t in feeds:
            t.start()
        for t in feeds:
            t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
