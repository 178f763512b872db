#!/usr/bin/python3
"""The integrator examples (examples/python, examples/node) against real
daemons of DOJ, a prosecutor and a court exchanging over mTLS.

DOJ notifies the candidates of its records, the prosecutor accepts each;
the court system example, following the court's cases from the start,
orders the relief as each decision arrives; DOJ's CCH example acknowledges
the orders and sees relief land on DOJ's records. Each example runs again
from its cursors and does nothing more."""
import json
import os
import select
import shutil
import subprocess
import sys
import unittest

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ["CJX_PY_GEN"])
import cjxdaemons  # noqa: E402
from cjx.v1 import determination_pb2 as dt  # noqa: E402
from cjx.v1 import exchange_pb2 as ex  # noqa: E402

SOURCE = os.environ["CJX_SOURCE_DIR"]
EXAMPLES = os.path.join(SOURCE, "examples")
EXCHANGE = """exchange:
  deadlines:
    review: {days: 365}
    order_unchallenged: {days: 365}
    history_update: {days: 90}
  delivery:
    batch: 40
    streams_per_peer: 1
    timeout_ms: 5000
    retry_initial_ms: 50
    retry_max_ms: 400
"""
GRANTS = {dt.RELIEF_DISMISS_AND_SEAL: "dismiss_and_seal",
          dt.RELIEF_REDUCE_TO_MISDEMEANOR: "reduce_to_misdemeanor",
          dt.RELIEF_REDUCE_TO_INFRACTION: "reduce_to_infraction"}


def key_of(case):
    return (case.key.cii, case.key.court_case_number, case.key.count_number)


def cases_when(daemon, done, follow=True):
    """Follows daemon's cases until done(latest snapshot by key) holds, and
    returns them; without follow, returns those there now. The stream's
    deadline bounds the wait."""
    latest = {}
    with grpc.insecure_channel("unix:" + daemon.socket) as ch:
        watch = ch.unary_stream(
            "/cjx.v1.CaseService/WatchCases",
            request_serializer=ex.WatchCasesRequest.SerializeToString,
            response_deserializer=ex.CaseChange.FromString)
        stream = watch(ex.WatchCasesRequest(follow=follow), timeout=60)
        try:
            for change in stream:
                latest[key_of(change.snapshot)] = change.snapshot
                if follow and done(latest):
                    return latest
        finally:
            stream.cancel()
    if follow:
        raise AssertionError("the case feed ended")
    return latest


def in_state(keys, state):
    return lambda latest: all(k in latest and latest[k].state == state for k in keys)


class Examples(unittest.TestCase):
    def exchange_to_the_court(self, net):
        """DOJ notifies; the prosecutor accepts every grant. Returns the
        cases by key, each with the relief the court is to order."""
        doj, da = net["doj"], net["sf-da"]
        # The shipped examples' records hold a reduction, the cjxctl
        # tests' records dismissals.
        doj.ctl("submit", os.path.join(EXAMPLES, "records.jsonl"))
        doj.ctl("submit", os.path.join(SOURCE, "tests", "data", "cli",
                                       "steps_records.jsonl"))
        doj.ctl("notify", "--from-store", "--county", "San Francisco",
                "--rules", os.environ["CJX_TEST_RULES"], "--as-of", "2026-01-01")
        # notify returns once DOJ has every case.
        grants = {k: c for k, c in cases_when(doj, None, follow=False).items()
                  if c.relief in GRANTS}
        # Dismissals (sealed) and reductions, so that both kinds of relief
        # land on the record.
        self.assertIn(dt.RELIEF_DISMISS_AND_SEAL, [c.relief for c in grants.values()])
        self.assertIn(dt.RELIEF_REDUCE_TO_MISDEMEANOR, [c.relief for c in grants.values()])
        cases_when(da, in_state(grants, ex.CASE_STATE_NOTIFIED))
        for (cii, ccn, count), c in grants.items():
            da.ctl("decide", cii, ccn, str(count), "--relief", GRANTS[c.relief])
        return grants

    def run_example(self, argv, env):
        out = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        return [json.loads(line) for line in out.stdout.splitlines()]

    def follow_until(self, proc, n):
        """Reads the JSON lines a following example prints until it has
        printed n; the wait for each is bounded. Reads the pipe itself: a
        buffered reader could hold lines that select() no longer sees."""
        lines, pending = [], b""
        while len(lines) < n:
            if b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                lines.append(json.loads(line))
                continue
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            self.assertTrue(ready, f"no output after {lines}")
            chunk = os.read(proc.stdout.fileno(), 65536)
            self.assertTrue(chunk, f"the example exited after {lines}")
            pending += chunk
        return lines

    def check(self, court_orders, cch_updates, env):
        net = cjxdaemons.Network(["doj", "sf-da", "sf-court"], EXCHANGE)
        follower = None
        try:
            doj, court = net["doj"], net["sf-court"]
            court_args = court_orders + [
                "--target", "unix:" + court.socket, "--cursor",
                os.path.join(court.dir, "court.cursor"), "--judge", "Hon. A. Judge"]
            # The court system follows before any case exists, and orders
            # each count as the prosecutor's decision reaches the court.
            follower = subprocess.Popen(court_args, env=env, stdout=subprocess.PIPE)
            grants = self.exchange_to_the_court(net)
            orders = self.follow_until(follower, len(grants))
            self.assertEqual(sorted((o["ordered"], o["case"], o["count"]) for o in orders),
                             sorted(grants))
            self.assertTrue(all(not o["unchanged"] for o in orders))
            follower.terminate()
            follower.wait(30)
            # From the saved cursor: nothing is ordered twice.
            self.assertEqual(self.run_example(court_args + ["--catch-up"], env), [])

            cases_when(doj, in_state(grants, ex.CASE_STATE_ORDERED))
            cch_args = cch_updates + [
                "--target", "unix:" + doj.socket,
                "--cases-cursor", os.path.join(doj.dir, "cases.cursor"),
                "--records-cursor", os.path.join(doj.dir, "records.cursor"),
                "--catch-up"]
            lines = self.run_example(cch_args, env)
            acks = [x for x in lines if "acknowledged" in x]
            self.assertEqual(sorted((a["acknowledged"], a["case"], a["count"]) for a in acks),
                             sorted(grants))
            self.assertTrue(all(a["state"] == "CASE_STATE_HISTORY_UPDATED" for a in acks))
            # Relief landed on DOJ's record of every count: the newest
            # version carries the order, sealed for a dismissal.
            newest = {}
            for x in lines:
                if "record" in x:
                    newest[(x["record"], x["case"], x["count"])] = x
            for k, c in grants.items():
                rec = newest[k]
                order = {"dismiss_and_seal": "ORDER_RELIEF_DISMISS_AND_SEAL",
                         "reduce_to_misdemeanor": "ORDER_RELIEF_REDUCE_TO_MISDEMEANOR",
                         "reduce_to_infraction": "ORDER_RELIEF_REDUCE_TO_INFRACTION"}[
                             GRANTS[c.relief]]
                self.assertEqual(rec["relief_history"], [order], k)
                self.assertEqual(rec["sealed"], order == "ORDER_RELIEF_DISMISS_AND_SEAL", k)
            self.assertEqual(self.run_example(cch_args, env), [])
        finally:
            if follower is not None:
                if follower.poll() is None:
                    follower.kill()
                    follower.wait()
                follower.stdout.close()
            self.assertEqual(net.close(), [])

    def test_python_examples(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [os.environ["CJX_PY_GEN"], os.path.join(EXAMPLES, "python")]))
        py = [sys.executable]
        self.check(py + [os.path.join(EXAMPLES, "python", "court_orders.py")],
                   py + [os.path.join(EXAMPLES, "python", "cch_updates.py")], env)

    def test_node_examples(self):
        # @grpc/grpc-js and @grpc/proto-loader from npm, into the build tree.
        modules = os.environ["CJX_NODE_DIR"]
        os.makedirs(modules, exist_ok=True)
        shutil.copy(os.path.join(EXAMPLES, "node", "package.json"), modules)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"],
                       cwd=modules, check=True, timeout=300)
        env = dict(os.environ, NODE_PATH=os.path.join(modules, "node_modules"))
        node = ["node"]
        self.check(node + [os.path.join(EXAMPLES, "node", "court_orders.js")],
                   node + [os.path.join(EXAMPLES, "node", "cch_updates.js")], env)


if __name__ == "__main__":
    unittest.main(verbosity=2)
