#!/usr/bin/env python3
"""hearthd as a systemd service (packaging/systemd, docs/hearthd.md):

- UnitsTest: `systemd-analyze verify` on hearthd.service and an instance of
  hearthd@.service (copied to a temp dir, @HEARTHD@ replaced by the built
  binary) prints nothing and exits 0; `systemd-analyze security` rates the
  unit's exposure at most 2.0.
- NotifyTest: with NOTIFY_SOCKET set to a datagram socket this test binds,
  hearthd sends READY=1 once its listen port accepts, RELOADING=1 / READY=1
  on SIGHUP (and applies the new log_level), STOPPING=1 on SIGTERM; a node
  that cannot open its replica never says READY=1.
- CredentialTest: the identity passphrase from $CREDENTIALS_DIRECTORY/passphrase
  (LoadCredential=), preferred over the environment variable; a wrong, empty,
  oversized or unreadable credential stops hearthd with exit 3 and a message.

Usage: test_service.py --hearthd BIN --hearth BIN --schema FILE --units DIR
                       --systemd ON|OFF [unittest args]
Every wait is bounded; every daemon is killed in tearDown.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HEARTHD = HEARTH = SCHEMA = UNITS = None
SYSTEMD = False
WAIT = 30.0
PASS = "correct horse battery staple"


def clean_env(**extra):
    e = {k: v for k, v in os.environ.items()
         if k not in ("HEARTH_PASSPHRASE", "NOTIFY_SOCKET", "CREDENTIALS_DIRECTORY")}
    e.update(extra)
    return e


def hearth(*args, env=None):
    p = subprocess.run([HEARTH, *args], capture_output=True, text=True, env=env or clean_env(), timeout=60)
    if p.returncode != 0:
        raise AssertionError(f"hearth {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def accepts(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class UnitsTest(unittest.TestCase):
    def setUp(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze not found (Debian package systemd): units not verified")
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        for unit in ("hearthd.service", "hearthd@.service"):
            with open(os.path.join(UNITS, unit)) as f:
                text = f.read()
            self.assertIn("@HEARTHD@", text)
            with open(os.path.join(self.d, unit), "w") as f:
                f.write(text.replace("@HEARTHD@", os.path.abspath(HEARTHD)))

    def tearDown(self):
        self.tmp.cleanup()

    def verify(self, unit):
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(self.d, unit)],
                           capture_output=True, text=True, timeout=60)
        # verify exits 0 on unknown keys and bad values (it only warns):
        # any output is a failure.
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""), unit)

    def test_verify_service(self):
        self.verify("hearthd.service")

    def test_verify_template_instance(self):
        self.verify("hearthd@town.service")

    def test_verify_catches_a_typo(self):
        # The check above can fail: a misspelt key is reported.
        with open(os.path.join(self.d, "hearthd.service")) as f:
            text = f.read()
        with open(os.path.join(self.d, "bad.service"), "w") as f:
            f.write(text.replace("ProtectHome=yes", "ProtectHome=yes\nProtectHomme=yes"))
        p = subprocess.run(["systemd-analyze", "verify", "--man=no", os.path.join(self.d, "bad.service")],
                           capture_output=True, text=True, timeout=60)
        self.assertIn("ProtectHomme", p.stderr)

    def test_security_exposure(self):
        for unit in ("hearthd.service", "hearthd@town.service"):
            p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager",
                                os.path.join(self.d, unit)], capture_output=True, text=True, timeout=60)
            m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            self.assertLessEqual(float(m.group(1)), 2.0, p.stdout)


class Node:
    """One hearthd on a fresh replica with a listen port, its log in a file."""

    def __init__(self, d, encrypted=False):
        self.d = d
        self.replica = os.path.join(d, "r")
        if encrypted:
            hearth("init", self.replica, "--schema", SCHEMA, env=clean_env(HEARTH_PASSPHRASE=PASS))
        else:
            hearth("init", self.replica, "--schema", SCHEMA, "--unencrypted-identity")
        self.port = free_port()
        self.cfg = os.path.join(d, "n.toml")
        self.write_config("info")
        self.log = os.path.join(d, "n.log")
        self.proc = None

    def write_config(self, level, port=None):
        with open(self.cfg, "w") as f:
            f.write(f'replica = "r"\nlisten = "tcp://127.0.0.1:{port or self.port}"\nlog_level = "{level}"\n')

    def start(self, env):
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([HEARTHD, "--config", self.cfg], stdout=self.logf, stderr=self.logf, env=env)

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def wait_exit(self):
        return self.proc.wait(timeout=WAIT)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=WAIT)
        if getattr(self, "logf", None):
            self.logf.close()


class NotifyTest(unittest.TestCase):
    def setUp(self):
        if not SYSTEMD:
            self.skipTest("hearthd built with HEARTHD_SYSTEMD=OFF (no libsystemd): it sends no notifications")
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name
        self.sock_path = os.path.join(self.d, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.sock_path)
        self.node = None

    def tearDown(self):
        if self.node:
            self.node.cleanup()
        self.sock.close()
        self.tmp.cleanup()

    def recv(self, want, timeout=WAIT):
        """Messages until one holds the line `want`; returns every message read."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            got.append(msg)
            if want in msg.split("\n"):
                return got
            if self.node.proc.poll() is not None and want != "STOPPING=1":
                break
        raise AssertionError(f"no {want} within {timeout}s; got {got}\n{self.node.read_log()}")

    def test_ready_reload_stopping(self):
        self.node = Node(self.d)
        self.node.start(clean_env(NOTIFY_SOCKET=self.sock_path))
        self.recv("READY=1")
        # READY=1 means the listen port accepts now, without a retry.
        self.assertTrue(accepts(self.node.port), self.node.read_log())
        # SIGHUP: log_level applies; a changed listen port is reported as
        # needing a restart (and the old port keeps serving).
        self.node.write_config("debug", port=free_port())
        self.node.proc.send_signal(signal.SIGHUP)
        got = self.recv("READY=1")
        self.assertIn("RELOADING=1", "\n".join(got).split("\n"))
        deadline = time.monotonic() + WAIT
        while "changed listen take effect only on a restart" not in self.node.read_log():
            self.assertLess(time.monotonic(), deadline, self.node.read_log())
            time.sleep(0.1)
        self.assertIn("reload: ", self.node.read_log())
        self.assertTrue(accepts(self.node.port))
        # A broken file keeps the running configuration.
        with open(self.node.cfg, "w") as f:
            f.write("replica = \n")
        self.node.proc.send_signal(signal.SIGHUP)
        self.recv("READY=1")
        self.assertIn("kept the running configuration", self.node.read_log())
        self.assertIsNone(self.node.proc.poll())
        self.node.proc.send_signal(signal.SIGTERM)
        self.recv("STOPPING=1")
        self.assertEqual(self.node.wait_exit(), 0, self.node.read_log())

    def test_no_ready_when_replica_does_not_open(self):
        self.node = Node(self.d, encrypted=True)
        self.node.start(clean_env(NOTIFY_SOCKET=self.sock_path))  # no passphrase anywhere
        self.assertEqual(self.node.wait_exit(), 3, self.node.read_log())
        self.sock.settimeout(0.2)
        msgs = []
        try:
            while True:
                msgs.append(self.sock.recv(4096).decode())
        except socket.timeout:
            pass
        self.assertFalse(any("READY=1" in m.split("\n") for m in msgs), msgs)


class CredentialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # One encrypted replica (Argon2id is slow on purpose), copied per test.
        cls.tmp = tempfile.TemporaryDirectory()
        cls.node = Node(cls.tmp.name, encrypted=True)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def setUp(self):
        self.node = CredentialTest.node
        self.creds = tempfile.TemporaryDirectory()
        self.node.proc = None

    def tearDown(self):
        self.node.cleanup()
        self.creds.cleanup()

    def credential(self, data):
        path = os.path.join(self.creds.name, "passphrase")
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o400)
        return path

    def run_node(self, **env):
        self.node.start(clean_env(CREDENTIALS_DIRECTORY=self.creds.name, **env))

    def wait_listening(self):
        deadline = time.monotonic() + WAIT
        while not accepts(self.node.port):
            self.assertIsNone(self.node.proc.poll(), self.node.read_log())
            self.assertLess(time.monotonic(), deadline, self.node.read_log())
            time.sleep(0.1)

    def expect_exit3(self, needle):
        self.assertEqual(self.node.wait_exit(), 3, self.node.read_log())
        self.assertIn(needle, self.node.read_log())

    def test_credential_unlocks_identity(self):
        self.credential(PASS.encode() + b"\n")  # one trailing newline is not part of it
        self.run_node()
        self.wait_listening()

    def test_credential_preferred_over_environment(self):
        self.credential(PASS.encode())
        self.run_node(HEARTH_PASSPHRASE="wrong passphrase")
        self.wait_listening()

    def test_environment_when_no_credential(self):
        self.run_node(HEARTH_PASSPHRASE=PASS)  # CREDENTIALS_DIRECTORY set, no passphrase file in it
        self.wait_listening()

    def test_wrong_credential(self):
        self.credential(b"not the passphrase\n")
        self.run_node(HEARTH_PASSPHRASE=PASS)
        self.expect_exit3("cannot open replica")

    def test_empty_credential(self):
        self.credential(b"\n")
        self.run_node(HEARTH_PASSPHRASE=PASS)
        self.expect_exit3("/passphrase: empty")

    def test_oversized_credential(self):
        self.credential(b"x" * 5000)
        self.run_node()
        self.expect_exit3("over 4096 bytes")

    def test_credential_not_a_file(self):
        os.mkdir(os.path.join(self.creds.name, "passphrase"))
        self.run_node()
        self.expect_exit3("/passphrase: not a regular file")


def main():
    global HEARTHD, HEARTH, SCHEMA, UNITS, SYSTEMD
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearthd", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--units", required=True)
    ap.add_argument("--systemd", default="OFF")
    args, rest = ap.parse_known_args()
    HEARTHD, HEARTH, SCHEMA, UNITS = args.hearthd, args.hearth, args.schema, args.units
    SYSTEMD = args.systemd.upper() in ("1", "ON", "TRUE", "YES")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
