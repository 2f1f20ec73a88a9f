#!/usr/bin/env python3
"""hearthd end to end: configuration errors, two real daemons on 127.0.0.1
with CURVE, kill -9 mid-transfer and convergence, hostile raw TCP frames.

Usage: test_hearthd.py --hearthd BIN --hearth BIN --schema FILE [unittest args]
Every wait is bounded (<= 60 s); every daemon is killed in tearDown.
"""
import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

HEARTHD = HEARTH = SCHEMA = None
WAIT = 60.0
# A valid Ed25519 public key (RFC 8032, test 1): hearthd checks peer keys.
VALID_KEY = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def env():
    e = dict(os.environ)
    e.pop("HEARTH_PASSPHRASE", None)
    return e


def run(*args, expect=0):
    p = subprocess.run([HEARTH, *args], capture_output=True, text=True, env=env(), timeout=60)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"hearth {' '.join(args)} exited {p.returncode}:\n{p.stdout}\n{p.stderr}")
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, what, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, text, expect, needle=None):
        path = os.path.join(self.d, "c.toml")
        with open(path, "w") as f:
            f.write(text)
        p = subprocess.run([HEARTHD, "--check-config", path], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, expect, p.stdout + p.stderr)
        if needle:
            self.assertIn(needle, p.stderr)
        return p

    def test_ok(self):
        key = VALID_KEY
        run("init", os.path.join(self.d, "r"), "--schema", SCHEMA, "--unencrypted-identity")
        p = self.check(f'replica = "r"\nlisten = "tcp://127.0.0.1:7400"\n[[peers]]\nendpoint = "tcp://127.0.0.1:7401"\nkey = "{key}"\n', 0)
        self.assertIn("ok", p.stdout)

    def test_replica_must_exist_and_open(self):
        # --check-config said ok for a replica directory that did not exist.
        conf = 'replica = "r"\nlisten = "tcp://127.0.0.1:7400"\n'
        r = os.path.join(self.d, "r")
        p = self.check(conf, 2, "does not exist")
        self.assertIn("hearth -C", p.stderr)
        self.assertFalse(os.path.exists(r), "--check-config created the replica directory")
        os.mkdir(r)  # a directory, but no replica in it
        self.check(conf, 2, "not a Hearth replica")
        self.assertEqual(os.listdir(r), [], "--check-config wrote into the directory")
        os.rmdir(r)
        run("init", r, "--schema", SCHEMA, "--unencrypted-identity")
        before = {n: (os.stat(os.path.join(r, n)).st_mtime_ns, os.stat(os.path.join(r, n)).st_size) for n in os.listdir(r)}
        self.check(conf, 0)
        after = {n: (os.stat(os.path.join(r, n)).st_mtime_ns, os.stat(os.path.join(r, n)).st_size) for n in os.listdir(r)}
        self.assertEqual(before, after, "--check-config changed the replica")
        with open(os.path.join(r, "data.mdb"), "r+b") as f:  # not LMDB any more
            f.write(b"\0" * 32)
        self.check(conf, 2, "not an LMDB file")

    def test_syntax_error(self):
        self.check('replica = "r\nlisten = 3\n', 2, "c.toml")

    def test_missing_replica(self):
        self.check('listen = "tcp://127.0.0.1:7400"\n', 2, "replica")

    def test_bad_key_has_line(self):
        self.check('replica = "r"\n\n[[peers]]\nendpoint = "tcp://127.0.0.1:1"\nkey = "xyz"\n', 2, "c.toml:5:")

    def test_missing_key(self):
        self.check('replica = "r"\n[[peers]]\nendpoint = "tcp://127.0.0.1:1"\n', 2, "key")

    def test_unknown_key_has_line(self):
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:7400"\nlistne = "x"\n', 2, "c.toml:3:")

    def test_bad_endpoint(self):
        self.check('replica = "r"\nlisten = "127.0.0.1:7400"\n', 2, "c.toml:2:")

    def test_bad_port(self):
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:99999"\n', 2, "bad port")

    def test_metrics_loopback_only(self):
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:7400"\nmetrics = "0.0.0.0:9000"\n', 2, "loopback")

    def test_log_level(self):
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:7400"\nlog_level = "loud"\n', 2, "log_level")

    def test_sync_range(self):
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:7400"\n[sync]\ntick_ms = 0\n', 2, "tick_ms")

    def test_nothing_to_do(self):
        self.check('replica = "r"\n', 2, "nothing to do")

    def test_missing_file(self):
        p = subprocess.run([HEARTHD, "--check-config", os.path.join(self.d, "nope.toml")],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)

    # ---- hostile configuration files (issue #12) ----
    def test_deep_nesting_refused_not_crash(self):
        # 100,000 nested arrays overflowed toml11's recursion (SIGSEGV).
        self.check("z = " + "[" * 100000 + "]" * 100000 + "\n", 2, "nested deeper than 64 levels")
        self.check("z = " + "{a=" * 100000 + "1" + "}" * 100000 + "\n", 2, "nested deeper than 64 levels")
        self.check("a" + ".a" * 100000 + " = 1\n", 2, "nested deeper than 64 levels")

    def test_too_large_refused(self):
        self.check('replica = "r"\n' + "# " + "x" * (1 << 20) + "\n", 2, "limit of 1048576 bytes")

    def test_peer_key_not_a_curve_point(self):
        # 64 hex digits, but not an Ed25519 point: hearthd exited 3 at start.
        bad = "ab" * 32
        p = self.check(f'replica = "r"\n[[peers]]\nname = "county office"\nendpoint = "tcp://127.0.0.1:7401"\n'
                       f'key = "{bad}"\n', 2, "c.toml:5: peer tcp://127.0.0.1:7401 (county office)")
        self.assertIn("not a valid Ed25519 public key", p.stderr)

    def test_control_characters_refused(self):
        # A NUL cut the replica path short; every string setting is checked.
        self.check('replica = "/tmp/a\\u0000/etc"\nlisten = "tcp://127.0.0.1:7400"\n', 2,
                   "c.toml:1: replica must not contain control characters (found 0x00)")
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:7400\\n"\n', 2, "listen must not contain control")
        self.check(f'replica = "r"\n[[peers]]\nendpoint = "tcp://127.0.0.1:7401"\nkey = "{VALID_KEY}"\n'
                   f'name = "a\\tb"\n', 2, "name must not contain control")
        self.check('replica = "r"\nlisten = "tcp://127.0.0.1:7400"\npassphrase_env = "A\\u001bB"\n', 2,
                   "passphrase_env must not contain control")

    def test_fifo_refused_not_hang(self):
        path = os.path.join(self.d, "fifo.toml")
        os.mkfifo(path)
        p = subprocess.run([HEARTHD, "--check-config", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("not a regular file", p.stderr)
    # ---- end hostile configuration files ----

    def test_help(self):
        p = subprocess.run([HEARTHD, "--help"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0)
        self.assertIn("--config", p.stdout)

    def test_version(self):
        # Same format as `hearth --version`: "<tool> <version>".
        p = subprocess.run([HEARTHD, "--version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        v = run("--version").stdout.split()
        self.assertEqual(p.stdout.split(), ["hearthd", v[1]])

    def test_no_args(self):
        p = subprocess.run([HEARTHD], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)


class Daemon:
    def __init__(self, name, d, replica, listen_port, peers, metrics_port, sync=None):
        self.name = name
        self.cfg = os.path.join(d, name + ".toml")
        self.log = os.path.join(d, name + ".log")
        self.metrics_port = metrics_port
        lines = [f'replica = "{replica}"', f'listen = "tcp://127.0.0.1:{listen_port}"',
                 'log_level = "debug"', "unencrypted_identity = true",
                 f'metrics = "127.0.0.1:{metrics_port}"']
        for ep, key in peers:  # tables after every top-level key
            lines += ["[[peers]]", f'endpoint = "{ep}"', f'key = "{key}"']
        settings = {"idle_timeout_ms": 10000, "heartbeat_ms": 1000, **(sync or {})}
        lines += ["[sync]"] + [f"{k} = {v}" for k, v in settings.items()]
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None

    def start(self):
        if getattr(self, "logf", None):
            self.logf.close()
        self.logf = open(self.log, "a")
        self.proc = subprocess.Popen([HEARTHD, "--config", self.cfg], stdout=self.logf, stderr=self.logf, env=env())
        wait_for(lambda: self.healthy() or self.proc.poll() is not None, f"{self.name} /healthz", 30)
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}:\n{self.read_log()}")

    def healthy(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/healthz", timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5) as r:
            return r.read().decode()

    def read_log(self):
        with open(self.log) as f:
            return f.read()

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def term(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None


class TwoNodesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = self.tmp.name
        self.a = os.path.join(d, "a")
        self.b = os.path.join(d, "b")
        run("init", self.a, "--schema", SCHEMA, "--unencrypted-identity")
        run("init", self.b, "--schema", SCHEMA, "--unencrypted-identity")
        # Scope keys: created on A (never implicitly), B gets a copy.
        run("-C", self.a, "keys", "new", "--all")
        run("-C", self.a, "put", "item", "title=seed", "score=0")
        run("-C", self.a, "put", "other", "name=seed")
        keys = os.path.join(d, "a.keys")
        run("-C", self.a, "keys", "export", keys)
        run("-C", self.b, "keys", "import", keys)
        ka = run("-C", self.a, "whoami").stdout.strip()
        kb = run("-C", self.b, "whoami").stdout.strip()
        self.pa, self.pb = free_port(), free_port()
        ma, mb = free_port(), free_port()
        self.da = Daemon("A", d, self.a, self.pa, [], ma)
        self.db = Daemon("B", d, self.b, self.pb, [(f"tcp://127.0.0.1:{self.pa}", ka)], mb)

    def tearDown(self):
        for dm in (self.da, self.db):
            dm.cleanup()
        if os.environ.get("HEARTH_PRINT_LOGS"):
            print("---- A log\n" + self.da.read_log() + "\n---- B log\n" + self.db.read_log())
        self.tmp.cleanup()

    def digest(self, r):
        return run("-C", r, "digest").stdout.strip()

    def converge(self, what):
        def same():
            return self.digest(self.a) == self.digest(self.b)
        try:
            wait_for(same, what)
        except AssertionError:
            print("---- A log\n" + self.da.read_log()[-4000:] + "\n---- B log\n" + self.db.read_log()[-4000:])
            raise

    def put(self, r, title, n):
        return run("-C", r, "put", "item", f"title={title}", f"score={n}").stdout.strip()

    def test_sync_kill9_converge_hostile(self):
        self.da.start()
        self.db.start()
        self.converge("initial sync A -> B")
        rid = self.put(self.a, "from-a", 1)
        self.converge("live push A -> B")
        self.assertIn("from-a", run("-C", self.b, "get", "item", rid).stdout)
        rid_b = self.put(self.b, "from-b", 2)
        self.converge("live push B -> A")
        self.assertIn("from-b", run("-C", self.a, "get", "item", rid_b).stdout)

        # kill -9 B while A keeps writing; restart; converge.
        for i in range(15):
            self.put(self.a, f"burst-{i}", i)
            if i == 3:
                self.db.kill9()
        self.put(self.b, "b-offline", 99)  # B writes while its daemon is down
        self.db.start()
        self.converge("after kill -9 and restart")

        # Hostile raw TCP against A: garbage, truncated greeting, oversized frame.
        hostile = [
            b"GET / HTTP/1.0\r\n\r\n" + os.urandom(512),
            b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f",  # truncated ZMTP signature
            b"\xff\x00\x00\x00\x00\x00\x00\x00\x01\x7f\x03\x00NULL" + b"\x00" * 16 + b"\x00" + b"\x00" * 31
            + b"\x06\xff\xff\xff\xff\xff\xff\xff\xf0" + b"A" * 4096,  # NULL mechanism + huge length
        ]
        for blob in hostile:
            with socket.create_connection(("127.0.0.1", self.pa), timeout=5) as s:
                try:
                    s.sendall(blob)
                    s.settimeout(2)
                    s.recv(4096)
                except OSError:
                    pass
        self.assertIsNone(self.da.proc.poll(), "A died on hostile input")
        rid2 = self.put(self.a, "after-hostile", 7)
        self.converge("sync after hostile input")
        self.assertIn("after-hostile", run("-C", self.b, "get", "item", rid2).stdout)

        m = self.da.metrics()
        self.assertIn("hearth_peer_bytes_in_total", m)
        self.assertIn("hearth_lmdb_map_used_bytes", m)
        mb = self.db.metrics()
        self.assertRegex(mb, r"hearth_peer_deltas_applied_total\{[^}]*\} [1-9]")

        self.assertEqual(self.db.term(), 0, self.db.read_log()[-2000:])
        self.assertEqual(self.da.term(), 0, self.da.read_log()[-2000:])
        log_a = self.da.read_log()
        self.assertIn("SIGTERM: stopping", log_a)
        self.assertIn("stopped", log_a)
        run("-C", self.a, "verify")
        run("-C", self.b, "verify")


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of a Prometheus text scrape."""
    out = {}
    for line in text.splitlines():
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


class MetricsTest(unittest.TestCase):
    """Peer series keep their labels and counters across a reconnect (issue
    #17): an inbound peer was labelled in:tcp://...#0, #1, ... per connection."""
    setUp = TwoNodesTest.setUp
    tearDown = TwoNodesTest.tearDown
    digest = TwoNodesTest.digest
    converge = TwoNodesTest.converge
    put = TwoNodesTest.put

    def peer_series(self, scrape, key16):
        return {(n, l): v for (n, l), v in scrape.items() if n.startswith("hearth_peer_") and ("key", key16) in l}

    def test_peer_series_stable_across_reconnect(self):
        kb = run("-C", self.b, "whoami").stdout.strip()[:16]
        self.da.start()
        self.db.start()
        self.converge("initial sync")
        self.put(self.b, "from-b", 1)
        self.converge("live push B -> A")
        wait_for(lambda: parse_metrics(self.da.metrics()).get(
            ("hearth_peer_deltas_applied_total", frozenset({("key", kb), ("name", "")})), 0) >= 1,
            "A counts B's delta")
        before = parse_metrics(self.da.metrics())
        build = [(l, v) for (n, l), v in before.items() if n == "hearth_build_info"]
        self.assertEqual(len(build), 1)
        self.assertIn(("version", run("--version").stdout.split()[1]), build[0][0])
        self.assertEqual(build[0][1], 1)
        self.assertNotIn("in:", self.da.metrics(), "peer series labelled by connection")
        b_before = self.peer_series(before, kb)
        labels_before = set(b_before)
        self.assertIn(("hearth_peer_connected", frozenset({("key", kb), ("name", "")})), labels_before)
        fail_key = ("hearth_peer_session_failures_total", frozenset({("key", kb), ("name", "")}))
        applied_key = ("hearth_peer_deltas_applied_total", frozenset({("key", kb), ("name", "")}))
        sync_key = ("hearth_peer_last_sync_timestamp_seconds", frozenset({("key", kb), ("name", "")}))
        self.assertGreater(b_before[sync_key], 0)

        # kill -9 B: its session fails on A; B comes back on a new connection.
        self.db.kill9()
        wait_for(lambda: parse_metrics(self.da.metrics()).get(fail_key, 0) > b_before[fail_key],
                 "A counts the failed session")
        self.db.start()
        self.put(self.b, "again", 2)
        self.converge("sync after the reconnect")
        conn_key = ("hearth_peer_connected", frozenset({("key", kb), ("name", "")}))
        wait_for(lambda: parse_metrics(self.da.metrics()).get(conn_key) == 1, "B connected again")
        after = parse_metrics(self.da.metrics())
        b_after = self.peer_series(after, kb)
        self.assertEqual(set(b_after), labels_before, "B's series changed labels across the reconnect")
        for k in b_before:  # counters carry on from before the reconnect
            if k[0].endswith("_total"):
                self.assertGreaterEqual(b_after[k], b_before[k], k)
        self.assertGreater(b_after[fail_key], b_before[fail_key])
        self.assertGreater(b_after[applied_key], b_before[applied_key])
        self.assertNotIn("in:", self.da.metrics())
        # B went away: logged at info, not as a failed session warning.
        log = self.da.read_log()
        self.assertIn("peer disconnected", log)
        self.assertNotIn("unavailable: disconnected", log.lower())

    def test_deltas_without_key_counted_and_logged_once_per_scope(self):
        # C holds no scope key: A's deltas are stored unreadable. They were
        # neither counted nor logged.
        c = os.path.join(self.tmp.name, "c")
        run("init", c, "--schema", SCHEMA, "--unencrypted-identity")
        ka = run("-C", self.a, "whoami").stdout.strip()
        dc = Daemon("C", self.tmp.name, c, free_port(), [(f"tcp://127.0.0.1:{self.pa}", ka)], free_port())
        self.addCleanup(dc.cleanup)
        self.da.start()
        dc.start()
        for i in range(3):
            self.put(self.a, f"more-{i}", i)
        unread = ("hearth_deltas_unreadable_total", frozenset())
        wait_for(lambda: parse_metrics(dc.metrics()).get(unread, 0) >= 5, "C counts 5 deltas without their key")
        log = dc.read_log()
        for scope in ("test.a", "test.b"):
            lines = [x for x in log.splitlines() if f"of scope {scope} from" in x]
            self.assertEqual(len(lines), 1, f"scope {scope}:\n{log}")
            self.assertIn("warn", lines[0])


class WakeTest(unittest.TestCase):
    """New deltas travel without waiting for a poll or a tick (docs/hearthd.md,
    "How fast a write travels"): with heads_poll_ms at 60 s, tick_ms at 10 s
    and heartbeats every 60 s, a commit by the CLI on A reaches C through B
    within 5 s only if A noticed it through inotify and B forwarded what it
    applied at once. Speed itself is measured by bench/latency_bench.py."""

    def test_commit_by_another_process_travels_two_hops_without_polling(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        d = tmp.name
        dirs = [os.path.join(d, n) for n in "abc"]
        for r in dirs:
            run("init", r, "--schema", SCHEMA, "--unencrypted-identity")
        run("-C", dirs[0], "keys", "new", "--all")
        keys = os.path.join(d, "keys")
        run("-C", dirs[0], "keys", "export", keys)
        for r in dirs[1:]:
            run("-C", r, "keys", "import", keys)
        ids = [run("-C", r, "whoami").stdout.strip() for r in dirs]
        ports = [free_port() for _ in dirs]
        daemons = []
        for i, r in enumerate(dirs):
            peers = [(f"tcp://127.0.0.1:{ports[i - 1]}", ids[i - 1])] if i else []
            dm = Daemon("ABC"[i], d, r, ports[i], peers, free_port(),
                        {"heads_poll_ms": 60000, "tick_ms": 10000, "heartbeat_ms": 60000,
                         "idle_timeout_ms": 180000})
            self.addCleanup(dm.cleanup)
            dm.start()
            daemons.append(dm)
        # Sessions up and caught up (the first heads poll is behind us).
        seed = run("-C", dirs[0], "put", "item", "title=seed", "score=0").stdout.strip()
        wait_for(lambda: run("-C", dirs[2], "get", "item", seed, expect=None).returncode == 0, "first write at C")
        for n in range(3):
            rid = run("-C", dirs[0], "put", "item", f"title=wake-{n}", f"score={n}").stdout.strip()
            deadline = time.monotonic() + 5
            while run("-C", dirs[2], "get", "item", rid, expect=None).returncode != 0:
                if time.monotonic() > deadline:
                    self.fail(f"write {n} did not reach C within 5 s (poll 60 s, tick 10 s):\n"
                              + daemons[0].read_log()[-3000:])
                time.sleep(0.1)


def main():
    global HEARTHD, HEARTH, SCHEMA
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearthd", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    args, rest = ap.parse_known_args()
    HEARTHD, HEARTH, SCHEMA = args.hearthd, args.hearth, args.schema
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
