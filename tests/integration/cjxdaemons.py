"""Real cjxd processes on loopback for the Python integration tests: a
configuration per daemon with the generated certificates, one shared agency
registry with every daemon's endpoint, start (ready when its port answers)
and a graceful stop."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import grpc

CERTS = os.environ["CJX_TEST_CERTS"]
CJXD = os.environ["CJX_CJXD"]
CJXCTL = os.environ["CJX_CJXCTL"]

# slug (certificate name), ORI, role, county of the test certificates.
AGENCIES = {
    "doj": ("CA0000001", "DOJ", None),
    "sf-da": ("CA038013A", "PROSECUTOR", "San Francisco"),
    "sf-court": ("CA038033J", "COURT", "San Francisco"),
    "sf-pd": ("CA038023P", "DEFENDER", "San Francisco"),
}


def read_cert(name):
    with open(os.path.join(CERTS, name), "rb") as f:
        return f.read()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    def __init__(self, net, slug):
        self.slug = slug
        self.ori, self.role, self.county = AGENCIES[slug]
        self.dir = os.path.join(net.dir, slug)
        os.mkdir(self.dir)
        self.port = free_port()
        self.socket = os.path.join(self.dir, "cjxd.sock")
        self.db = os.path.join(self.dir, "state", "cjxd.db")
        self.conf = os.path.join(self.dir, "cjxd.yaml")
        self.proc = None

    def write_conf(self, registry, extra):
        with open(self.conf, "w") as f:
            f.write(f"""agency: {self.ori}
trust_domain: cjx.example
listen: 127.0.0.1:{self.port}
local_socket: {self.socket}
state_dir: {self.dir}/state
registry: {registry}
rules: {os.environ["CJX_TEST_RULES"]}
tls:
  ca: {CERTS}/ca.pem
  cert: {CERTS}/{self.slug}.pem
  key: {CERTS}/{self.slug}.key
{extra}""")

    def start(self):
        self.log = open(os.path.join(self.dir, "cjxd.log"), "w")
        self.proc = subprocess.Popen([CJXD, "-c", self.conf], stderr=self.log)
        # Ready once the health check answers on the local socket.
        deadline = time.time() + 15
        with grpc.insecure_channel("unix:" + self.socket) as ch:
            check = ch.unary_unary("/grpc.health.v1.Health/Check")
            while True:
                try:
                    check(b"", timeout=1, wait_for_ready=True)
                    return
                except grpc.RpcError:
                    if time.time() > deadline or self.proc.poll() is not None:
                        raise RuntimeError(f"{self.slug} did not start:\n"
                                           + self.log_text())

    def stop(self):
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(30)
        self.proc = None
        self.log.close()
        return code

    def log_text(self):
        with open(os.path.join(self.dir, "cjxd.log")) as f:
            return f.read()

    def channel(self, cert_slug):
        """An mTLS channel to this daemon presenting cert_slug's certificate."""
        creds = grpc.ssl_channel_credentials(
            root_certificates=read_cert("ca.pem"),
            private_key=read_cert(f"{cert_slug}.key"),
            certificate_chain=read_cert(f"{cert_slug}.pem"))
        return grpc.secure_channel(f"127.0.0.1:{self.port}", creds)

    def ctl(self, *args):
        """Runs cjxctl on this daemon's local socket; returns its output."""
        out = subprocess.run([CJXCTL, "-s", self.socket, *args], cwd=self.dir,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"cjxctl {' '.join(args)}: {out.stdout}")
        return out.stdout


class Network:
    """Daemons of several agencies that know each other's endpoints."""

    def __init__(self, slugs, extra=""):
        self.dir = tempfile.mkdtemp(prefix="cjx-py-")
        self.daemons = {s: Daemon(self, s) for s in slugs}
        registry = os.path.join(self.dir, "agencies.yaml")
        with open(registry, "w") as f:
            f.write("agencies:\n")
            for slug, (ori, role, county) in AGENCIES.items():
                f.write(f"  - ori: {ori}\n    role: {role}\n"
                        f"    name: test {slug}\n")
                if county:
                    f.write(f"    county: {county}\n")
                if slug in self.daemons:
                    f.write("    endpoint: 127.0.0.1:"
                            f"{self.daemons[slug].port}\n")
        for d in self.daemons.values():
            d.write_conf(registry, extra)
        for d in self.daemons.values():
            d.start()

    def __getitem__(self, slug):
        return self.daemons[slug]

    def close(self):
        """Stops every daemon; returns the slugs that did not exit 0."""
        failed = [d.slug for d in self.daemons.values() if d.stop() != 0]
        shutil.rmtree(self.dir)
        return failed
