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
import time
import unittest

import grpc

sys.path.insert(0, os.environ["CJX_PY_GEN"])
from cjx.v1 import record_service_pb2 as rs  # noqa: E402
from cjx.v1 import conviction_pb2 as cv  # noqa: E402
from cjx.v1 import types_pb2 as ty  # noqa: E402
from cjx.v1 import determination_pb2 as dt  # noqa: E402
from cjx.v1 import rules_service_pb2 as rules  # noqa: E402

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
