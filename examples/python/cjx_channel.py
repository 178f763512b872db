"""What both examples share: a channel to the agency's own cjxd, and a
cursor kept in a file so that a restart resumes where the last run stopped.

The local socket is the daemon's API for the agency's own systems (its
permissions decide who may use it); a system on another host uses mTLS
with a certificate of the agency instead."""
import os

import grpc


def channel(target, ca=None, cert=None, key=None):
    """target is "unix:/run/cjxd/cjxd.sock" or "host:port" (with ca, cert
    and key: PEM files of the exchange's CA and the agency's identity)."""
    if target.startswith("unix:"):
        return grpc.insecure_channel(target)

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    creds = grpc.ssl_channel_credentials(read(ca), read(key), read(cert))
    return grpc.secure_channel(target, creds)


class Cursor:
    """The last change-feed position handled, in a file. Saved only after
    what it covers is done, so a crash repeats work rather than losing it;
    repeated steps carry the same request ids and change nothing."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path) as f:
                self.seq = int(f.read().strip() or 0)
        except FileNotFoundError:
            self.seq = 0

    def save(self, seq):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{seq}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.seq = seq


def add_connection_args(parser):
    parser.add_argument("--target", default="unix:/run/cjxd/cjxd.sock",
                        help="the agency's cjxd (unix:PATH or host:port)")
    parser.add_argument("--ca", help="exchange CA bundle (mTLS targets)")
    parser.add_argument("--cert", help="agency certificate (mTLS targets)")
    parser.add_argument("--key", help="agency private key (mTLS targets)")
    parser.add_argument("--catch-up", action="store_true",
                        help="handle what is there and exit, instead of "
                             "following new changes")
