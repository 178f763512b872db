#!/usr/bin/python3
"""A court's case management system on the relief exchange.

Follows the court's cases (CaseService/WatchCases) from a saved cursor, and
for each count the prosecutor did not challenge sends the court's order
granting the relief the prosecutor accepted (CaseService/Order). The order
rewrites the court's copy of the record (relief history, level, sealing)
and travels to DOJ. Prints one JSON line per order sent.

    court_orders.py --target unix:/run/cjxd/cjxd.sock --cursor court.cursor \\
        --judge "Hon. A. Judge"

Generate the cjx.v1 modules first: protoc -I proto --python_out=GEN
proto/cjx/v1/*.proto, and put GEN on PYTHONPATH.
"""
import argparse
import datetime
import json
import sys

import grpc

from cjx.v1 import conviction_pb2 as cv
from cjx.v1 import determination_pb2 as dt
from cjx.v1 import exchange_pb2 as ex
from cjx.v1 import types_pb2 as ty

import cjx_channel

# The prosecutor's accepted relief, as the court orders it.
ORDER_FOR = {
    dt.RELIEF_DISMISS_AND_SEAL: cv.ORDER_RELIEF_DISMISS_AND_SEAL,
    dt.RELIEF_REDUCE_TO_MISDEMEANOR: cv.ORDER_RELIEF_REDUCE_TO_MISDEMEANOR,
    dt.RELIEF_REDUCE_TO_INFRACTION: cv.ORDER_RELIEF_REDUCE_TO_INFRACTION,
}


def order_for(case, judge, today):
    order = ex.ReliefOrder(relief=ORDER_FOR[case.accepted_relief], judge=judge)
    # One id per count: sent again after a crash, it is the same order.
    k = case.key
    order.meta.request_id = f"order:{k.cii}:{k.court_case_number}:{k.count_number}"
    order.key.CopyFrom(k)
    order.effective_date.CopyFrom(
        ty.Date(year=today.year, month=today.month, day=today.day))
    return order


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cjx_channel.add_connection_args(p)
    p.add_argument("--cursor", required=True, help="file keeping the position")
    p.add_argument("--judge", required=True)
    args = p.parse_args()

    cursor = cjx_channel.Cursor(args.cursor)
    today = datetime.date.today()
    with cjx_channel.channel(args.target, args.ca, args.cert, args.key) as ch:
        watch = ch.unary_stream(
            "/cjx.v1.CaseService/WatchCases",
            request_serializer=ex.WatchCasesRequest.SerializeToString,
            response_deserializer=ex.CaseChange.FromString)
        order = ch.unary_unary(
            "/cjx.v1.CaseService/Order",
            request_serializer=ex.ReliefOrder.SerializeToString,
            response_deserializer=ex.CaseReply.FromString)
        changes = watch(ex.WatchCasesRequest(after_seq=cursor.seq,
                                             follow=not args.catch_up))
        for change in changes:
            case = change.snapshot
            done = None
            if (change.event == ex.CASE_EVENT_KIND_NO_CHALLENGE
                    and case.state == ex.CASE_STATE_NOT_CHALLENGED
                    and case.accepted_relief in ORDER_FOR):
                try:
                    reply = order(order_for(case, args.judge, today), timeout=30)
                except grpc.RpcError as e:
                    # A refusal is for good (the case moved on, the deadline
                    # passed): report it and go on; anything else stops
                    # here, and the next run starts again from this change.
                    if e.code() not in (grpc.StatusCode.FAILED_PRECONDITION,
                                        grpc.StatusCode.INVALID_ARGUMENT):
                        raise
                    done = {"refused": case.key.cii, "code": e.code().name,
                            "message": e.details()}
                else:
                    done = {"ordered": case.key.cii,
                            "case": case.key.court_case_number,
                            "count": case.key.count_number,
                            "relief": cv.OrderRelief.Name(reply.snapshot.order),
                            "unchanged": reply.unchanged}
            cursor.save(change.seq)
            # Reported once the cursor is past it: what is printed is done.
            if done is not None:
                print(json.dumps(done), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
