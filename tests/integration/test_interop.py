#!/usr/bin/python3
"""Interoperability: Debian's python3-grpcio, a client we did not write,
calls a real cjxd over mTLS with the generated certificates."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import grpc

sys.path.insert(0, os.environ["CJX_PY_GEN"])
from cjx.v1 import record_service_pb2 as rs  # noqa: E402
from cjx.v1 import conviction_pb2 as cv  # noqa: E402
from cjx.v1 import types_pb2 as ty  # noqa: E402
from cjx.v1 import determination_pb2 as dt  # noqa: E402
from cjx.v1 import rules_service_pb2 as rules  # noqa: E402
from cjx.v1 import exchange_pb2 as ex  # noqa: E402
from cjx.v1 import audit_pb2 as au  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cjxdaemons import CERTS, CJXD, free_port  # noqa: E402
from cjxdaemons import read_cert as read  # noqa: E402

DOJ = "CA0000001"


def health_request():
    # grpc.health.v1.HealthCheckRequest with an empty service name is empty.
    return b""


class Interop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="cjx-interop-")
        cls.port = free_port()
        conf = os.path.join(cls.dir, "cjxd.yaml")
        with open(conf, "w") as f:
            f.write(f"""agency: {DOJ}
trust_domain: cjx.example
listen: 127.0.0.1:{cls.port}
local_socket: {cls.dir}/cjxd.sock
state_dir: {cls.dir}/state
registry: {CERTS}/agencies.yaml
rules: {os.environ["CJX_TEST_RULES"]}
tls:
  ca: {CERTS}/ca.pem
  cert: {CERTS}/doj.pem
  key: {CERTS}/doj.key
exchange:
  deadlines:
    review: {{days: 365}}
    order_unchallenged: {{days: 365}}
    history_update: {{days: 90}}
""")
        cls.log = open(os.path.join(cls.dir, "cjxd.log"), "w")
        cls.proc = subprocess.Popen([CJXD, "-c", conf], stderr=cls.log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", cls.port), 0.2):
                    break
            except OSError:
                time.sleep(0.02)

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        code = cls.proc.wait(20)
        cls.log.close()
        shutil.rmtree(cls.dir)
        assert code == 0, f"cjxd exited with {code}"

    def channel(self, agency):
        creds = grpc.ssl_channel_credentials(
            root_certificates=read("ca.pem"),
            private_key=read(f"{agency}.key"),
            certificate_chain=read(f"{agency}.pem"))
        return grpc.secure_channel(f"127.0.0.1:{self.port}", creds)

    def record(self, cii, case, count):
        r = cv.ConvictionRecord(county="San Francisco",
                                court_case_number=case, count_number=count,
                                court_ori="CA038033J")
        r.subject.cii = cii
        r.subject.last_name = "PY"
        r.subject.date_of_birth.CopyFrom(ty.Date(year=1979, month=7, day=4))
        r.offense_date.CopyFrom(ty.Date(year=2013, month=1, day=9))
        r.charge.section = "11360"
        r.charge.code = "HS"
        r.level = cv.OFFENSE_LEVEL_FELONY
        return r

    def local_channel(self):
        """The daemon's own operator: its Unix socket, local credentials."""
        creds = grpc.local_channel_credentials(grpc.LocalConnectionType.UDS)
        return grpc.secure_channel(f"unix:{self.dir}/cjxd.sock", creds)

    def test_cch_follows_relief_onto_the_record(self):
        """DOJ's criminal-history system follows WatchRecords and sees the
        court's dismissal land on the record when DOJ applies it."""
        key = cv.RecordKey(cii="P10000077", court_case_number="PY-77",
                           count_number=1)
        seen = []
        sealed = threading.Event()

        def follow():
            with self.channel("doj") as ch:
                watch = ch.unary_stream(
                    "/cjx.v1.RecordService/WatchRecords",
                    request_serializer=rs.WatchRecordsRequest.SerializeToString,
                    response_deserializer=rs.RecordChange.FromString)
                try:
                    for change in watch(rs.WatchRecordsRequest(follow=True),
                                        timeout=30):
                        rec = change.record.record
                        if rec.subject.cii == key.cii:
                            seen.append(change)
                            if rec.sealed:
                                sealed.set()
                                return
                except grpc.RpcError:
                    pass

        follower = threading.Thread(target=follow)
        follower.start()
        now_us = int(time.time() * 1e6)
        with self.channel("doj") as ch:
            notice = ex.CandidateNotice(
                record=self.record(key.cii, key.court_case_number, 1),
                prosecutor_ori="CA038013A", notified_at_unix_us=now_us)
            notice.meta.request_id = "py-n-77"
            notice.record.disposition = cv.DISPOSITION_CONVICTED
            notice.determination.relief = dt.RELIEF_DISMISS_AND_SEAL
            notice.determination.procedure = dt.PROCEDURE_APPLICATION_REDESIGNATION
            ch.unary_unary("/cjx.v1.CaseService/NotifyCandidate",
                           request_serializer=ex.CandidateNotice.SerializeToString,
                           response_deserializer=ex.CaseReply.FromString)(
                               notice, timeout=5)
        with self.channel("sf-da") as ch:
            d = ex.ProsecutorDecision(key=key, decided_at_unix_us=now_us)
            d.meta.request_id = "py-d-77"
            d.no_challenge.relief = dt.RELIEF_DISMISS_AND_SEAL
            ch.unary_unary("/cjx.v1.CaseService/Decide",
                           request_serializer=ex.ProsecutorDecision.SerializeToString,
                           response_deserializer=ex.CaseReply.FromString)(
                               d, timeout=5)
        with self.channel("sf-court") as ch:
            o = ex.ReliefOrder(key=key, relief=cv.ORDER_RELIEF_DISMISS_AND_SEAL,
                               judge="Hon. P. Ython", ordered_at_unix_us=now_us,
                               bulk_order_id="PY-BULK-1")
            o.meta.request_id = "py-o-77"
            ch.unary_unary("/cjx.v1.CaseService/Order",
                           request_serializer=ex.ReliefOrder.SerializeToString,
                           response_deserializer=ex.CaseReply.FromString)(
                               o, timeout=5)
        # Received, the order is not yet on DOJ's record.
        self.assertFalse(sealed.is_set())
        with self.local_channel() as ch:
            h = ex.HistoryUpdated(key=key, applied=cv.ORDER_RELIEF_DISMISS_AND_SEAL)
            h.meta.request_id = "py-h-77"
            reply = ch.unary_unary(
                "/cjx.v1.CaseService/AcknowledgeHistoryUpdated",
                request_serializer=ex.HistoryUpdated.SerializeToString,
                response_deserializer=ex.CaseReply.FromString)(h, timeout=5)
            self.assertEqual(reply.snapshot.state, ex.CASE_STATE_HISTORY_UPDATED)
        self.assertTrue(sealed.wait(20), "the follower never saw the relief")
        follower.join(20)
        first, last = seen[0].record, seen[-1].record
        self.assertEqual(first.version, 1)
        self.assertFalse(first.record.sealed)
        self.assertEqual(last.version, 2)
        self.assertEqual(last.record.disposition, cv.DISPOSITION_DISMISSED)
        entry = last.record.relief_history[0]
        self.assertEqual(entry.relief, cv.ORDER_RELIEF_DISMISS_AND_SEAL)
        self.assertEqual(entry.court_ori, "CA038033J")
        self.assertEqual(entry.judge, "Hon. P. Ython")
        self.assertEqual(entry.bulk_order_id, "PY-BULK-1")
        self.assertEqual(entry.recorded_by_ori, DOJ)
        self.sealed_record_is_read_as_the_policy_allows(key)

    def get_record_notes(self, key):
        """(agency, outcome message) of every GetRecord of key in the log."""
        with self.local_channel() as ch:
            export = ch.unary_stream(
                "/cjx.v1.AuditService/ExportAudit",
                request_serializer=au.ExportAuditRequest.SerializeToString,
                response_deserializer=au.AuditRecord.FromString)
            return [(r.entry.agency_ori, r.entry.outcome_message)
                    for r in export(au.ExportAuditRequest(), timeout=10)
                    if r.HasField("entry") and r.entry.cii == key.cii and
                    r.entry.method == "/cjx.v1.RecordService/GetRecord"]

    def sealed_record_is_read_as_the_policy_allows(self, key):
        """Sealed means sealed: DOJ, the court of conviction and the case's
        prosecutor read it marked sealed; the public defender and another
        county are told what a missing record gets; the audit log keeps
        the difference, one entry per read."""
        missing = cv.RecordKey(cii="P10000078", court_case_number="PY-78",
                               count_number=1)
        answers = {}
        for agency in ("doj", "sf-court", "sf-da", "sf-pd", "alameda-court"):
            with self.channel(agency) as ch:
                get = ch.unary_unary(
                    "/cjx.v1.RecordService/GetRecord",
                    request_serializer=rs.GetRecordRequest.SerializeToString,
                    response_deserializer=rs.StoredRecord.FromString)
                for k in (key, missing):
                    try:
                        got = get(rs.GetRecordRequest(key=k), timeout=5)
                        answers[agency, k.cii] = ("OK", got.record.sealed)
                    except grpc.RpcError as e:
                        answers[agency, k.cii] = (e.code().name, e.details())
        for agency in ("doj", "sf-court", "sf-da"):
            self.assertEqual(answers[agency, key.cii], ("OK", True), agency)
        for agency in ("sf-pd", "alameda-court"):
            # Exactly the answer for a record that does not exist.
            self.assertEqual(answers[agency, key.cii],
                             answers[agency, missing.cii], agency)
            self.assertEqual(answers[agency, key.cii][0], "NOT_FOUND")
        # The entries of reads are committed a few milliseconds after their
        # answers (they share commits): read the log until they are there.
        deadline = time.time() + 10
        while True:
            notes = self.get_record_notes(key)
            read = [n for n in notes if n[1].startswith("sealed record read")]
            withheld = [n for n in notes if "withheld" in n[1] or
                        "another county" in n[1]]
            if len(read) + len(withheld) >= 5 or time.time() > deadline:
                break
            time.sleep(0.05)  # poll interval; the condition above decides
        self.assertEqual(len(read), 3, notes)
        self.assertEqual(len(withheld), 2, notes)

    def test_health_check(self):
        with self.channel("sf-pd") as ch:
            check = ch.unary_unary("/grpc.health.v1.Health/Check")
            reply = check(health_request(), timeout=5)
            # HealthCheckResponse{status: SERVING(1)} is field 1, varint 1.
            self.assertEqual(reply, b"\x08\x01")

    def test_submit_get_and_watch(self):
        with self.channel("sf-court") as ch:
            submit = ch.unary_unary(
                "/cjx.v1.RecordService/SubmitRecord",
                request_serializer=rs.SubmitRecordRequest.SerializeToString,
                response_deserializer=rs.SubmitRecordResponse.FromString)
            req = rs.SubmitRecordRequest(record=self.record("P10000001", "PY-1", 1))
            req.meta.request_id = "py-1"
            resp = submit(req, timeout=5)
            self.assertEqual(resp.version, 1)
            again = submit(req, timeout=5)
            self.assertEqual(again.seq, resp.seq)

            get = ch.unary_unary(
                "/cjx.v1.RecordService/GetRecord",
                request_serializer=rs.GetRecordRequest.SerializeToString,
                response_deserializer=rs.StoredRecord.FromString)
            got = get(rs.GetRecordRequest(key=cv.RecordKey(
                cii="P10000001", court_case_number="PY-1", count_number=1)), timeout=5)
            self.assertEqual(got.record.charge.section, "11360")
            self.assertEqual(got.submitted_by, "CA038033J")

        with self.channel("doj") as ch:
            watch = ch.unary_stream(
                "/cjx.v1.RecordService/WatchRecords",
                request_serializer=rs.WatchRecordsRequest.SerializeToString,
                response_deserializer=rs.RecordChange.FromString)
            seqs = [c.seq for c in watch(rs.WatchRecordsRequest(after_seq=0), timeout=5)]
            self.assertIn(resp.seq, seqs)
            self.assertEqual(seqs, sorted(set(seqs)))

    def test_evaluate_with_the_shipped_rules(self):
        with self.channel("sf-pd") as ch:
            evaluate = ch.unary_unary(
                "/cjx.v1.RulesService/Evaluate",
                request_serializer=rules.EvaluateRequest.SerializeToString,
                response_deserializer=rules.EvaluateResponse.FromString)
            rec = self.record("P10000009", "PY-9", 1)
            rec.charge.section = "11357"
            rec.charge.subsection = "(b)"
            rec.level = cv.OFFENSE_LEVEL_MISDEMEANOR
            rec.facts.grams = 5.0
            rec.disposition = cv.DISPOSITION_CONVICTED
            query = dt.ReliefQuery(record=rec, as_of=ty.Date(year=2026, month=1, day=1))
            resp = evaluate(rules.EvaluateRequest(query=query), timeout=5)
            self.assertEqual(resp.determination.relief, dt.RELIEF_DISMISS_AND_SEAL)
            self.assertEqual(resp.determination.rule_set, "prop64")
            self.assertIn("LEGAL_ADULT_POSSESSION", resp.determination.reason_codes)

    def test_record_rules_refuse_with_rule_and_field(self):
        with self.channel("sf-court") as ch:
            submit = ch.unary_unary("/cjx.v1.RecordService/SubmitRecord")
            rec = self.record("P10000010", "PY-10", 1)
            rec.conviction_date.CopyFrom(ty.Date(year=2012, month=1, day=1))
            req = rs.SubmitRecordRequest(record=rec)
            req.meta.request_id = "py-rule-1"
            with self.assertRaises(grpc.RpcError) as e:
                submit(req.SerializeToString(), timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("conviction_after_offense", e.exception.details())
            self.assertIn("conviction_date", e.exception.details())

    def test_refusals_have_precise_status(self):
        with self.channel("sf-da") as ch:
            submit = ch.unary_unary("/cjx.v1.RecordService/SubmitRecord")
            req = rs.SubmitRecordRequest(record=self.record("P10000002", "PY-2", 1))
            req.meta.request_id = "py-2"
            with self.assertRaises(grpc.RpcError) as e:
                submit(req.SerializeToString(), timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.PERMISSION_DENIED)
        with self.channel("sf-court") as ch:
            submit = ch.unary_unary("/cjx.v1.RecordService/SubmitRecord")
            with self.assertRaises(grpc.RpcError) as e:
                submit(b"\x12\x64\x0a", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            unknown = ch.unary_unary("/cjx.v1.RecordService/Missing")
            with self.assertRaises(grpc.RpcError) as e:
                unknown(b"", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNIMPLEMENTED)
        with self.channel("unknown") as ch:
            check = ch.unary_unary("/grpc.health.v1.Health/Check")
            with self.assertRaises(grpc.RpcError) as e:
                check(b"", timeout=5)
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


if __name__ == "__main__":
    unittest.main(verbosity=2)
