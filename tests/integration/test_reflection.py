#!/usr/bin/python3
"""Server reflection and health against a real cjxd over mTLS.

The reflection client has no .proto file of cjx: like grpcurl it knows only
the reflection protocol (reflection_pb2, from Debian's grpc-proto), lists
the services, fetches their descriptors with ServerReflectionInfo, builds
message classes from them with python3-protobuf and calls methods
dynamically. Health/Watch is followed through a failed commit, the next
good one and the drain at SIGTERM."""
import os
import sqlite3
import sys
import unittest

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format
from google.protobuf import message_factory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.environ["CJX_PY_REFLECTION"])
import cjxdaemons  # noqa: E402
import reflection_pb2 as rf  # noqa: E402

V1 = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
V1ALPHA = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"


class Reflector:
    """A client that learns the schema from the server alone."""

    def __init__(self, channel, path=V1):
        self.channel = channel
        self.info = channel.stream_stream(
            path, request_serializer=rf.ServerReflectionRequest.SerializeToString,
            response_deserializer=rf.ServerReflectionResponse.FromString)
        self.pool = descriptor_pool.DescriptorPool()
        self.files = {}
        self.factory = message_factory.MessageFactory(self.pool)

    def ask(self, *requests):
        return list(self.info(iter(requests), timeout=10))

    def services(self):
        (resp,) = self.ask(rf.ServerReflectionRequest(list_services="*"))
        return [s.name for s in resp.list_services_response.service]

    def load_symbol(self, symbol):
        (resp,) = self.ask(rf.ServerReflectionRequest(file_containing_symbol=symbol))
        if resp.HasField("error_response"):
            raise LookupError(resp.error_response.error_message)
        for raw in resp.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            self.files.setdefault(fd.name, fd)
        for name in list(self.files):
            self.add(name)

    def add(self, name):
        """Adds a file to the pool after what it imports."""
        try:
            self.pool.FindFileByName(name)
            return
        except KeyError:
            pass
        fd = self.files[name]
        for dep in fd.dependency:
            self.add(dep)
        self.pool.Add(fd)

    def message(self, full_name):
        return self.factory.GetPrototype(self.pool.FindMessageTypeByName(full_name))

    def unary(self, service, method_name):
        """A callable for a method, with message classes from reflection."""
        method = self.pool.FindServiceByName(service).FindMethodByName(method_name)
        return method, self.channel.unary_unary(
            f"/{service}/{method_name}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.message(method.output_type.full_name).FromString)


class Reflection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = cjxdaemons.Network(["doj"])
        cls.doj = cls.net["doj"]

    @classmethod
    def tearDownClass(cls):
        assert cls.net.close() == [], "cjxd did not exit cleanly"

    def test_lists_describes_and_calls_without_a_proto_file(self):
        with self.doj.channel("sf-pd") as ch:
            r = Reflector(ch)
            services = r.services()
            self.assertEqual(sorted(services), sorted([
                "cjx.v1.RecordService", "cjx.v1.RulesService",
                "cjx.v1.AuditService", "cjx.v1.CaseService", "cjx.v1.StatusService",
                "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection"]))
            # Every method of every service resolves, with its messages.
            methods = 0
            for name in services:
                r.load_symbol(name)
                svc = r.pool.FindServiceByName(name)
                for m in svc.methods:
                    r.message(m.input_type.full_name)
                    r.message(m.output_type.full_name)
                    methods += 1
            self.assertGreater(methods, 20)
            # Every message of every file served can be built.
            for fd in r.files.values():
                for mt in fd.message_type:
                    r.message(f"{fd.package}.{mt.name}")()

            # A call built from reflected descriptors alone.
            method, evaluate = r.unary("cjx.v1.RulesService", "Evaluate")
            req = r.message(method.input_type.full_name)()
            json_format.ParseDict({"query": {
                "record": {
                    "courtOri": "CA038033J",
                    "subject": {"cii": "R1", "lastName": "RF", "dateOfBirth":
                                {"year": 1980, "month": 1, "day": 1}},
                    "county": "San Francisco", "courtCaseNumber": "R-1",
                    "countNumber": 1,
                    "charge": {"code": "HS", "section": "11357",
                               "subsection": "(b)"},
                    "level": "OFFENSE_LEVEL_MISDEMEANOR",
                    "disposition": "DISPOSITION_CONVICTED",
                    "offenseDate": {"year": 2014, "month": 2, "day": 3},
                    "facts": {"grams": 5.0}},
                "asOf": {"year": 2026, "month": 1, "day": 1}}}, req)
            resp = evaluate(req, timeout=10)
            self.assertEqual(json_format.MessageToDict(resp)["determination"]["relief"],
                             "RELIEF_DISMISS_AND_SEAL")

            # A refusal comes as a status naming the field, as to any client.
            method, get = r.unary("cjx.v1.RecordService", "GetRecord")
            with self.assertRaises(grpc.RpcError) as e:
                get(r.message(method.input_type.full_name)(), timeout=10)
            self.assertEqual(e.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            self.assertIn("key", e.exception.details())

    def test_served_descriptors_are_those_the_build_compiles(self):
        sys.path.insert(0, os.environ["CJX_PY_GEN"])
        from cjx.v1 import exchange_pb2  # the build's own compile
        with self.doj.channel("doj") as ch:
            r = Reflector(ch)
            (resp,) = r.ask(rf.ServerReflectionRequest(
                file_by_filename="cjx/v1/exchange.proto"))
            served = resp.file_descriptor_response.file_descriptor_proto[0]
            self.assertEqual(served, exchange_pb2.DESCRIPTOR.serialized_pb)

    def test_v1alpha_answers_and_errors_name_the_field(self):
        with self.doj.channel("sf-court") as ch:
            r = Reflector(ch, V1ALPHA)
            self.assertIn("cjx.v1.CaseService", r.services())
            answers = r.ask(
                rf.ServerReflectionRequest(file_containing_symbol="cjx.v1.Nothing"),
                rf.ServerReflectionRequest(),
                rf.ServerReflectionRequest(file_containing_symbol="cjx.v1.Case.flags"))
            self.assertEqual(answers[0].error_response.error_code,
                             grpc.StatusCode.NOT_FOUND.value[0])
            self.assertIn("file_containing_symbol", answers[0].error_response.error_message)
            self.assertEqual(answers[1].error_response.error_code,
                             grpc.StatusCode.INVALID_ARGUMENT.value[0])
            self.assertIn("message_request", answers[1].error_response.error_message)
            first = descriptor_pb2.FileDescriptorProto.FromString(
                answers[2].file_descriptor_response.file_descriptor_proto[0])
            self.assertEqual(first.name, "cjx/v1/exchange.proto")

    def test_an_unknown_agency_may_not_reflect(self):
        with self.doj.channel("unknown") as ch:
            with self.assertRaises(grpc.RpcError) as e:
                Reflector(ch).services()
            self.assertEqual(e.exception.code(), grpc.StatusCode.UNAUTHENTICATED)


# HealthCheckResponse{status}: field 1, a varint.
SERVING, NOT_SERVING = b"\x08\x01", b"\x08\x02"


class HealthFollowsTheStoreAndTheDrain(unittest.TestCase):
    def test_watch(self):
        net = cjxdaemons.Network(["sf-court"])
        court = net["sf-court"]
        try:
            with court.channel("sf-pd") as ch:
                watch = ch.unary_stream("/grpc.health.v1.Health/Watch")(b"", timeout=120)
                check = ch.unary_unary("/grpc.health.v1.Health/Check")
                self.assertEqual(next(watch), SERVING)

                # The database is locked by another process: the daemon's
                # transactions fail once their busy timeout is over.
                lock = sqlite3.connect(court.db, isolation_level=None)
                lock.execute("BEGIN EXCLUSIVE")
                with self.assertRaises(RuntimeError):
                    court.ctl("submit", os.path.join(os.environ["CJX_SOURCE_DIR"],
                                                     "examples", "record.json"))
                self.assertEqual(next(watch), NOT_SERVING)
                self.assertEqual(check(b"", timeout=10), NOT_SERVING)
                lock.execute("ROLLBACK")
                lock.close()

                court.ctl("submit", os.path.join(os.environ["CJX_SOURCE_DIR"],
                                                 "examples", "record.json"))
                self.assertEqual(next(watch), SERVING)
                self.assertEqual(check(b"", timeout=10), SERVING)

                # SIGTERM: the watch is told, then the stream ends.
                court.proc.send_signal(15)
                self.assertEqual(next(watch), NOT_SERVING)
                with self.assertRaises(grpc.RpcError) as e:
                    next(watch)
                self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)
        finally:
            self.assertEqual(net.close(), [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
