#!/usr/bin/python3
"""A misbehaving peer for cjxd's security tests.

Speaks raw TCP, TLS and hand-built HTTP/2 frames (no HTTP/2 library is
needed), plus the gRPC Python package for the rate-limit check. Each mode
prints what it saw and exits 0 when the daemon behaved as it should.

usage: rawpeer.py MODE HOST PORT CERTDIR CLIENT [TIMEOUT_S]
  silent          TCP only, sends nothing: the daemon must drop it
  partial         sends the first bytes of a TLS record, then nothing
  idle            TLS + HTTP/2 set up, no calls: expects a GOAWAY
  h2-garbage      a malformed HTTP/2 frame after the preface: expects the
                  connection to be closed (GOAWAY or EOF)
  bad-preface     bytes that are not the HTTP/2 preface after TLS
  grpc-ok         a well-formed Health/Check: expects a response message
  grpc-truncated  a gRPC length prefix larger than the data: expects the
                  stream to end without a response message
  settings        prints the daemon's HTTP/2 SETTINGS as ID=VALUE lines
  serial          prints the serial number of the daemon's certificate
  ratelimit       calls Health/Check until RESOURCE_EXHAUSTED and checks
                  the retry hint in the message and trailing metadata
  hold-watch      opens $CJX_RAWPEER_STREAMS WatchRecords streams (follow)
                  on one connection and never reads (no WINDOW_UPDATE);
                  once each is answered (opened, or ended: refused), prints
                  the counts and how much the RSS of process
                  $CJX_RAWPEER_PID grew, and fails above
                  $CJX_RAWPEER_RSS_MAX_KB
  idle-stream     opens SubmitRecords and sends nothing more: expects the
                  daemon to end the stream within TIMEOUT_S
CLIENT is the name of the client certificate in CERTDIR (CLIENT.pem/.key).
"""

import socket
import ssl
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
HEALTH = "/grpc.health.v1.Health/Check"


def frame(kind, flags, stream, payload=b""):
    return (struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) +
            struct.pack(">I", stream) + payload)


def literal(name, value):
    """An HPACK literal header field without indexing, new name, no
    Huffman coding (names and values here are shorter than 127 bytes)."""
    n, v = name.encode(), value.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def grpc_headers(path):
    return b"".join(literal(k, v) for k, v in [
        (":method", "POST"), (":scheme", "https"), (":path", path),
        (":authority", "localhost"), ("content-type", "application/grpc"),
        ("te", "trailers")])


def tls_connect(host, port, certdir, client, timeout):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(f"{certdir}/ca.pem")
    ctx.load_cert_chain(f"{certdir}/{client}.pem", f"{certdir}/{client}.key")
    ctx.set_alpn_protocols(["h2"])
    raw = socket.create_connection((host, port), timeout=timeout)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    if s.selected_alpn_protocol() != "h2":
        sys.exit(f"ALPN gave {s.selected_alpn_protocol()!r}, not h2")
    return s


class Reader:
    """Reads HTTP/2 frames, answering SETTINGS and PING as a peer must."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError
            self.buf += chunk

    def next(self, deadline):
        self._fill(9, deadline)
        length = int.from_bytes(self.buf[:3], "big")
        kind, flags = self.buf[3], self.buf[4]
        stream = int.from_bytes(self.buf[5:9], "big") & 0x7FFFFFFF
        self._fill(9 + length, deadline)
        payload = self.buf[9:9 + length]
        self.buf = self.buf[9 + length:]
        if kind == SETTINGS and not flags & ACK:
            self.sock.sendall(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            self.sock.sendall(frame(PING, ACK, 0, payload))
        return kind, flags, stream, payload


def h2_start(s):
    s.sendall(PREFACE + frame(SETTINGS, 0, 0))


def wait_closed(reader, timeout):
    """Reads until GOAWAY or EOF; returns a description, or None on timeout."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            kind, _, _, payload = reader.next(deadline)
            if kind == GOAWAY:
                code = int.from_bytes(payload[4:8], "big")
                debug = payload[8:].decode("utf-8", "replace")
                return f"goaway code={code} debug={debug}"
    except EOFError:
        return "eof"
    except (ConnectionResetError, ssl.SSLError) as e:
        return f"closed ({e.__class__.__name__})"
    except TimeoutError:
        return None


def mode_tcp(host, port, timeout, first_bytes):
    s = socket.create_connection((host, port), timeout=timeout)
    if first_bytes:
        s.sendall(first_bytes)
    start = time.monotonic()
    try:
        while True:
            s.settimeout(max(0.01, start + timeout - time.monotonic()))
            if not s.recv(4096):
                break
    except ConnectionResetError:
        pass
    except socket.timeout:
        print(f"still open after {timeout} s")
        return 1
    print(f"dropped after {time.monotonic() - start:.1f} s")
    return 0


def mode_idle(s, timeout):
    h2_start(s)
    start = time.monotonic()
    how = wait_closed(Reader(s), timeout)
    if how is None:
        print(f"no GOAWAY within {timeout} s")
        return 1
    print(f"{how} after {time.monotonic() - start:.1f} s")
    return 0


def mode_h2_garbage(s, timeout):
    h2_start(s)
    # A SETTINGS frame must be a multiple of 6 bytes long: FRAME_SIZE_ERROR.
    s.sendall(frame(SETTINGS, 0, 0, b"\x00\x01\x02\x03\x04"))
    how = wait_closed(Reader(s), timeout)
    print(how or f"still open after {timeout} s")
    return 0 if how else 1


def mode_bad_preface(s, timeout):
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
    how = wait_closed(Reader(s), timeout)
    print(how or f"still open after {timeout} s")
    return 0 if how else 1


def grpc_call(s, message, timeout):
    """Sends one call on stream 1; returns (response bytes, how it ended)."""
    h2_start(s)
    s.sendall(frame(HEADERS, END_HEADERS, 1, grpc_headers(HEALTH)) +
              frame(DATA, END_STREAM, 1, message))
    reader = Reader(s)
    deadline = time.monotonic() + timeout
    got = b""
    try:
        while True:
            kind, flags, stream, payload = reader.next(deadline)
            if kind == GOAWAY:
                return got, "goaway"
            if stream != 1:
                continue
            if kind == DATA:
                got += payload
            if kind == RST_STREAM:
                code = int.from_bytes(payload[:4], "big")
                return got, f"rst_stream code={code}"
            if kind in (DATA, HEADERS) and flags & END_STREAM:
                return got, "end_stream"
    except EOFError:
        return got, "eof"
    except TimeoutError:
        return got, None


def mode_grpc(s, timeout, truncated):
    if truncated:
        # The prefix announces 4096 bytes; 5 follow, then the stream ends.
        message = b"\x00" + struct.pack(">I", 4096) + b"12345"
    else:
        message = b"\x00" + struct.pack(">I", 0)
    got, how = grpc_call(s, message, timeout)
    print(f"response bytes={len(got)} ended={how}")
    if how is None:
        return 1
    if truncated:
        return 0 if len(got) == 0 else 1
    # SERVING is HealthCheckResponse{status: 1}: 08 01 after the prefix.
    return 0 if got[5:] == b"\x08\x01" else 1


def mode_settings(s, timeout):
    h2_start(s)
    reader = Reader(s)
    deadline = time.monotonic() + timeout
    while True:
        kind, flags, _, payload = reader.next(deadline)
        if kind == SETTINGS and not flags & ACK:
            for i in range(0, len(payload) - 5, 6):
                key, value = struct.unpack(">HI", payload[i:i + 6])
                print(f"{key}={value}")
            return 0


def mode_serial(s):
    serial = s.getpeercert().get("serialNumber")
    print(serial)
    return 0 if serial else 1


def mode_ratelimit(host, port, certdir, client, timeout):
    import grpc

    def read(name):
        with open(f"{certdir}/{name}", "rb") as f:
            return f.read()

    creds = grpc.ssl_channel_credentials(read("ca.pem"), read(f"{client}.key"),
                                         read(f"{client}.pem"))
    with grpc.secure_channel(f"{host}:{port}", creds) as ch:
        check = ch.unary_unary(HEALTH)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                check(b"", timeout=timeout)
            except grpc.RpcError as e:
                if e.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
                    print(f"unexpected {e.code()}: {e.details()}")
                    return 1
                trailers = dict(e.trailing_metadata() or ())
                print(f"details={e.details()!r}")
                print(f"trailers={trailers!r}")
                hint = trailers.get("retry-after-ms", "")
                ok = hint.isdigit() and int(hint) >= 1 and \
                    f"retry after {hint} ms" in e.details()
                return 0 if ok else 1
    print("never limited")
    return 1


WATCH_RECORDS = "/cjx.v1.RecordService/WatchRecords"
SUBMIT_RECORDS = "/cjx.v1.RecordService/SubmitRecords"


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def mode_hold_watch(s, timeout):
    import os
    n = int(os.environ["CJX_RAWPEER_STREAMS"])
    pid = int(os.environ["CJX_RAWPEER_PID"])
    max_kb = int(os.environ["CJX_RAWPEER_RSS_MAX_KB"])
    before = rss_kb(pid)
    h2_start(s)
    # WatchRecordsRequest{after_seq: 0, follow: true}: field 2, varint 1.
    request = b"\x00" + struct.pack(">I", 2) + b"\x10\x01"
    for i in range(n):
        sid = 1 + 2 * i
        s.sendall(frame(HEADERS, END_HEADERS, sid, grpc_headers(WATCH_RECORDS)) +
                  frame(DATA, END_STREAM, sid, request))
    reader = Reader(s)
    deadline = time.monotonic() + timeout
    opened, refused = set(), set()
    try:
        while len(opened) + len(refused) < n:
            kind, flags, sid, _ = reader.next(deadline)
            if sid == 0 or sid in refused:
                continue
            if (kind == HEADERS and flags & END_STREAM) or kind == RST_STREAM:
                opened.discard(sid)
                refused.add(sid)
            elif kind == HEADERS:
                opened.add(sid)
    except TimeoutError:
        print(f"only {len(opened) + len(refused)} of {n} answered")
        return 1
    grown = rss_kb(pid) - before
    print(f"opened={len(opened)} refused={len(refused)} "
          f"rss_growth_kb={grown} bound_kb={max_kb}")
    return 0 if grown <= max_kb else 1


def mode_idle_stream(s, timeout):
    h2_start(s)
    s.sendall(frame(HEADERS, END_HEADERS, 1, grpc_headers(SUBMIT_RECORDS)))
    reader = Reader(s)
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    try:
        while True:
            kind, flags, sid, payload = reader.next(deadline)
            if sid == 1 and kind == HEADERS and flags & END_STREAM:
                print(f"ended after {time.monotonic() - start:.1f} s")
                return 0
            if sid == 1 and kind == RST_STREAM:
                print(f"reset after {time.monotonic() - start:.1f} s")
                return 0
    except TimeoutError:
        print(f"still open after {timeout} s")
        return 1


def main(argv):
    if len(argv) < 6:
        sys.exit(__doc__)
    mode, host, port, certdir, client = argv[1:6]
    port = int(port)
    timeout = float(argv[6]) if len(argv) > 6 else 10.0
    if mode == "silent":
        return mode_tcp(host, port, timeout, b"")
    if mode == "partial":
        # A handshake record header announcing 512 bytes that never come.
        return mode_tcp(host, port, timeout, b"\x16\x03\x01\x02\x00")
    if mode == "ratelimit":
        return mode_ratelimit(host, port, certdir, client, timeout)
    try:
        s = tls_connect(host, port, certdir, client, timeout)
    except (ssl.SSLError, ConnectionError) as e:
        print(f"TLS refused: {e}")
        return 3
    try:
        if mode == "idle":
            return mode_idle(s, timeout)
        if mode == "h2-garbage":
            return mode_h2_garbage(s, timeout)
        if mode == "bad-preface":
            return mode_bad_preface(s, timeout)
        if mode == "grpc-ok":
            return mode_grpc(s, timeout, False)
        if mode == "grpc-truncated":
            return mode_grpc(s, timeout, True)
        if mode == "settings":
            return mode_settings(s, timeout)
        if mode == "serial":
            return mode_serial(s)
        if mode == "hold-watch":
            return mode_hold_watch(s, timeout)
        if mode == "idle-stream":
            return mode_idle_stream(s, timeout)
    except (ssl.SSLError, ConnectionError) as e:
        print(f"connection closed: {e}")
        return 3
    finally:
        s.close()
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
