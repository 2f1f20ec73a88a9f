#!/usr/bin/env python3
"""hearth status, hearthd's /status, the lag and attention metrics, the
exposition format of /metrics, and the web page in a headless browser
(issue #17 items 3-5). Two real hearthd processes on 127.0.0.1.

Usage: test_status.py --hearthd BIN --hearth BIN --schema FILE [--out DIR] [unittest args]
Every wait is bounded (<= 60 s); every daemon is killed in tearDown.
"""
import argparse
import json
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
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_hearthd as th  # noqa: E402  (Daemon, run, wait_for, parse_metrics)

OUT = None  # where the browser test leaves its screenshot (--out)
PEER_NAME = "城厢镇办公室"  # B's name for A, in CJK: the page must show it readably


def run(*args, expect=0):
    return th.run(*args, expect=expect)


def jrun(*args, expect=0):
    return json.loads(run("--json", *args, expect=expect).stdout)


def get(port, path, timeout=10):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def edit_config(dm, ui=False, peer_name=None):
    """Adds `ui = true` (a top-level key) and names the [[peers]] entry."""
    with open(dm.cfg) as f:
        text = f.read()
    if ui:
        text = text.replace("\nmetrics = ", "\nui = true\nmetrics = ", 1)
    if peer_name:
        text = re.sub(r'(key = "[0-9a-f]{64}"\n)', lambda m: m.group(1) + f'name = "{peer_name}"\n', text, count=1)
    with open(dm.cfg, "w") as f:
        f.write(text)


# ---- Prometheus text exposition format (0.0.4), checked without promtool ----
METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)')


def check_exposition(text):
    """Problems in a /metrics scrape: every sample has HELP and TYPE before
    it, one TYPE per family, families not split, counters end in _total,
    label syntax and values valid, no duplicate series. [] when clean."""
    problems, types, helps, seen, done = [], {}, set(), set(), set()
    current = None
    if not text.endswith("\n"):
        problems.append("does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            problems.append(f"{n}: empty line")
            continue
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                problems.append(f"{n}: second HELP for {name}")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "histogram", "summary", "untyped"):
                problems.append(f"{n}: bad TYPE line {line!r}")
                continue
            name = parts[2]
            if name in types:
                problems.append(f"{n}: second TYPE for {name}")
            if name not in helps:
                problems.append(f"{n}: TYPE {name} without HELP before it")
            if current and current != name:
                done.add(current)
            types[name] = parts[3]
            current = name
            if parts[3] == "counter" and not name.endswith("_total"):
                problems.append(f"{n}: counter {name} does not end in _total")
            continue
        if line.startswith("#"):
            continue
        m = METRIC_RE.match(line)
        if not m:
            problems.append(f"{n}: not a sample: {line!r}")
            continue
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        if name not in types:
            problems.append(f"{n}: sample {name} without TYPE")
        elif name in done:
            problems.append(f"{n}: family {name} split (samples after another family)")
        elif name != current:
            problems.append(f"{n}: sample {name} under TYPE {current}")
        pos, names = 0, []
        while pos < len(labels):
            lm = LABEL_RE.match(labels, pos)
            if not lm:
                problems.append(f"{n}: bad labels {labels!r}")
                break
            names.append(lm.group(1))
            pos = lm.end()
        if len(set(names)) != len(names):
            problems.append(f"{n}: repeated label in {labels!r}")
        try:
            v = float(value)
            if types.get(name) == "counter" and v < 0:
                problems.append(f"{n}: negative counter {line!r}")
        except ValueError:
            problems.append(f"{n}: bad value {value!r}")
        key = (name, tuple(sorted(names)), labels)
        if key in seen:
            problems.append(f"{n}: duplicate series {name}{{{labels}}}")
        seen.add(key)
    return problems


class ExpositionCheckerTest(unittest.TestCase):
    """The checker itself catches what it claims to (it must be able to fail)."""

    def test_checker_rejects_bad_scrapes(self):
        good = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\"} 1\n"
        self.assertEqual(check_exposition(good), [])
        for bad in ["a_total 1\n",                                                   # no TYPE
                    "# HELP a x\n# TYPE a counter\na 1\n",                              # counter name
                    good + "a_total{k=\"v\"} 2\n",                                      # duplicate
                    good + "# HELP b x\n# TYPE b gauge\nb 1\na_total{k=\"w\"} 1\n",     # split family
                    "# HELP a x\n# TYPE a gauge\na{k=\"v} 1\n",                         # bad label
                    "# HELP a x\n# TYPE a gauge\na one\n"]:                              # bad value
            self.assertNotEqual(check_exposition(bad), [], bad)


class ConfigUiTest(unittest.TestCase):
    def test_ui_needs_metrics_and_a_bool(self):
        with tempfile.TemporaryDirectory() as d:
            rep = os.path.join(d, "r")
            run("init", rep, "--schema", th.SCHEMA, "--unencrypted-identity")
            cfg = os.path.join(d, "c.toml")
            for body, want in [('ui = true\n', "needs `metrics"), ('ui = "yes"\nmetrics = "127.0.0.1:9400"\n', "true or false")]:
                with open(cfg, "w") as f:
                    f.write(f'replica = "{rep}"\nlisten = "tcp://127.0.0.1:7400"\n' + body)
                p = subprocess.run([th.HEARTHD, "--check-config", cfg], capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(want, p.stderr)
            with open(cfg, "w") as f:
                f.write(f'replica = "{rep}"\nlisten = "tcp://127.0.0.1:7400"\nmetrics = "127.0.0.1:9400"\nui = true\n')
            p = subprocess.run([th.HEARTHD, "--check-config", cfg], capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)


class StatusTest(unittest.TestCase):
    setUp = th.TwoNodesTest.setUp
    digest = th.TwoNodesTest.digest
    converge = th.TwoNodesTest.converge
    put = th.TwoNodesTest.put

    def tearDown(self):
        for dm in (self.da, self.db):
            if dm.proc and dm.proc.poll() is None:
                try:
                    dm.proc.send_signal(signal.SIGCONT)
                except OSError:
                    pass
        th.TwoNodesTest.tearDown(self)

    def status(self, dm):
        return json.loads(get(dm.metrics_port, "/status")[2])

    def peer(self, doc, key):
        got = [p for p in doc["peers"] if p["key"] == key]
        return got[0] if got else None

    def lag(self, dm, key, side):
        p = self.peer(self.status(dm), key)
        return None if p is None or p[side] is None else p[side]["deltas"]

    def test_status_lag_goes_to_zero_after_catch_up(self):
        ka = run("-C", self.a, "whoami").stdout.strip()
        kb = run("-C", self.b, "whoami").stdout.strip()
        edit_config(self.db, peer_name=PEER_NAME)
        self.da.start()
        self.db.start()
        self.converge("initial sync")
        wait_for = th.wait_for
        wait_for(lambda: self.lag(self.db, ka, "behind_in") == 0 and self.lag(self.da, kb, "behind_out") == 0,
                 "lag known and 0 after the initial sync")

        # hearth status --config: asks B's hearthd.
        doc = jrun("status", "--config", self.db.cfg)
        self.assertEqual(doc["source"], "hearthd")
        self.assertEqual(doc["node"]["key"], kb)
        self.assertEqual(doc["node"]["schema_version"], 1)
        pa = self.peer(doc, ka)
        self.assertEqual(pa["name"], PEER_NAME)
        self.assertTrue(pa["connected"])
        self.assertTrue(pa["configured"])
        self.assertGreater(pa["last_sync_ms"], 0)
        self.assertGreater(pa["last_seen_ms"], 0)
        self.assertEqual(doc["counts"]["conflicts"], 0)
        text = run("status", "--config", self.db.cfg).stdout
        self.assertIn(PEER_NAME, text)
        self.assertIn("THEY LACK", text)

        # B stops reading (SIGSTOP): what A sends stays uncredited, A's lag to B grows.
        self.db.proc.send_signal(signal.SIGSTOP)
        for i in range(5):
            self.put(self.a, f"while-b-stopped-{i}", i)
        wait_for(lambda: (self.lag(self.da, kb, "behind_out") or 0) >= 5, "A: B lacks 5 deltas")
        doc = jrun("status", "--endpoint", f"127.0.0.1:{self.da.metrics_port}")
        self.assertGreaterEqual(self.peer(doc, kb)["behind_out"]["deltas"], 5)
        self.assertGreater(self.peer(doc, kb)["behind_out"]["bytes_estimate"], 0)
        m = th.parse_metrics(self.da.metrics())
        self.assertGreaterEqual(m[("hearth_peer_behind_out_deltas", frozenset({("key", kb[:16]), ("name", "")}))], 5)
        self.db.proc.send_signal(signal.SIGCONT)
        self.converge("B catches up after SIGCONT")
        wait_for(lambda: self.lag(self.da, kb, "behind_out") == 0, "A: B lacks nothing after the catch-up")

        # B's daemon down while both write; restart: B's handshake counts what it lacks, then 0.
        self.assertEqual(self.db.term(), 0)
        for i in range(4):
            self.put(self.a, f"a-offline-{i}", i)
        for i in range(3):
            self.put(self.b, f"b-offline-{i}", i)
        sync_before = self.peer(self.status(self.da), kb)["last_sync_ms"]
        self.db.start()
        self.converge("catch-up after restart")
        wait_for(lambda: self.lag(self.db, ka, "behind_in") == 0 and self.lag(self.db, ka, "behind_out") == 0
                 and self.lag(self.da, kb, "behind_in") == 0 and self.lag(self.da, kb, "behind_out") == 0,
                 "lag 0 both ways after the catch-up")
        wait_for(lambda: (self.peer(self.status(self.da), kb)["last_sync_ms"] or 0) > sync_before,
                 "A's last sync with B moves on")
        doc = jrun("status", "--config", self.db.cfg)
        self.assertEqual((doc["peers"][0]["behind_in"]["deltas"], doc["peers"][0]["behind_out"]["deltas"]), (0, 0))
        m = th.parse_metrics(self.db.metrics())
        lbl = frozenset({("key", ka[:16]), ("name", PEER_NAME)})
        self.assertEqual(m[("hearth_peer_behind_in_deltas", lbl)], 0)
        self.assertEqual(m[("hearth_peer_behind_out_deltas", lbl)], 0)
        self.assertGreater(m[("hearth_peer_last_sync_timestamp_seconds", lbl)], 0)

        # No hearthd: the replica answers, peers unknown.
        self.assertEqual(self.db.term(), 0)
        doc = jrun("status", "--config", self.db.cfg)
        self.assertEqual(doc["source"], "replica")
        self.assertFalse(doc["peers_known"])
        self.assertIn("127.0.0.1", doc["why"])
        self.assertEqual(doc["node"]["key"], kb)
        doc = jrun("-C", self.b, "status")
        self.assertEqual((doc["source"], doc["counts"]["pending"]), ("replica", 0))
        self.assertIn("peers unknown", run("-C", self.b, "status").stdout)
        # Bad endpoints are usage errors, not hangs.
        run("-C", self.b, "status", "--endpoint", "10.0.0.1:80", expect=2)
        run("-C", self.b, "status", "--endpoint", "127.0.0.1:99999", expect=2)

    def test_metrics_exposition_clean_and_handshake_failures_counted(self):
        self.da.start()
        self.db.start()
        self.converge("initial sync")
        # Five sessions that fail their handshake: a ZMTP 3.0 greeting
        # offering the NULL mechanism to A's CURVE listener.
        greeting = b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL" + b"\x00" * 16 + b"\x00" + b"\x00" * 31
        before = th.parse_metrics(self.da.metrics())[("hearth_handshake_failures_total", frozenset())]
        for _ in range(5):
            with socket.create_connection(("127.0.0.1", self.pa), timeout=5) as s:
                s.sendall(greeting)
                s.settimeout(3)
                try:
                    while s.recv(4096):
                        pass
                except OSError:
                    pass
        key = ("hearth_handshake_failures_total", frozenset())
        th.wait_for(lambda: th.parse_metrics(self.da.metrics())[key] >= before + 5, "5 handshake failures counted", 20)
        time.sleep(0.5)
        self.assertEqual(th.parse_metrics(self.da.metrics())[key], before + 5)
        self.assertEqual(self.status(self.da)["handshake_failures"], before + 5)

        for dm in (self.da, self.db):
            text = dm.metrics()
            self.assertEqual(check_exposition(text), [], text)
            m = th.parse_metrics(text)
            bi = [k for k in m if k[0] == "hearth_build_info"]
            self.assertEqual(len(bi), 1)
            self.assertEqual({n for n, _ in bi[0][1]}, {"version", "commit"})
            for name in ("hearth_deltas_denied_total", "hearth_deltas_withheld_total", "hearth_deltas_unreadable_total"):
                self.assertIn((name, frozenset()), m)
            promtool = shutil.which("promtool")
            if promtool:  # Debian's prometheus package; the Python check above always runs
                p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            else:
                print("promtool not installed: only the Python exposition check ran", file=sys.stderr)

        # A clean stop of B: A logs its goodbye at info level.
        self.assertEqual(self.db.term(), 0)
        th.wait_for(lambda: "session done" in self.da.read_log(), "A logs B's BYE")
        line = [x for x in self.da.read_log().splitlines() if "session done" in x][-1]
        self.assertIn(" info ", line)

    def test_page_off_unless_configured(self):
        self.da.start()
        for path in ("/", "/report"):
            with self.assertRaises(urllib.error.HTTPError) as e:
                get(self.da.metrics_port, path)
            self.assertEqual(e.exception.code, 404)
        self.assertEqual(get(self.da.metrics_port, "/status")[0], 200)


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


@unittest.skipUnless(find_chromium(), "chromium not installed (apt-get install chromium)")
class BrowserTest(unittest.TestCase):
    """The web page in a real headless browser against a running node pair
    with a planted conflict: DOM checked, screenshot saved under --out."""
    setUp = th.TwoNodesTest.setUp
    tearDown = th.TwoNodesTest.tearDown
    digest = th.TwoNodesTest.digest
    converge = th.TwoNodesTest.converge

    def chromium(self, *args):
        prof = tempfile.mkdtemp(dir=self.tmp.name)
        cmd = [find_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--disable-dev-shm-usage", f"--user-data-dir={prof}", "--hide-scrollbars", *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return p.stdout

    def test_page_shows_peers_and_conflict(self):
        ka = run("-C", self.a, "whoami").stdout.strip()
        kb = run("-C", self.b, "whoami").stdout.strip()
        edit_config(self.db, ui=True, peer_name=PEER_NAME)
        edit_config(self.da, ui=True)
        # The planted conflict: both sides set the mv field concurrently.
        rid = jrun("-C", self.a, "put", "item", "title=档案", "owner=alice")["id"]
        self.da.start()
        self.db.start()
        self.converge("initial sync")
        self.da.term()
        self.db.term()
        jrun("-C", self.a, "put", "item", "owner=王芳", "--id", rid)
        jrun("-C", self.b, "put", "item", "owner=李雷", "--id", rid)
        self.da.start()
        self.db.start()
        self.converge("the conflict reaches both")
        th.wait_for(lambda: all(p["connected"] for p in json.loads(get(self.db.metrics_port, "/status")[2])["peers"]),
                    "B connected to A")
        self.assertEqual(jrun("-C", self.b, "conflicts")["count"], 1)

        status, ctype, html = get(self.db.metrics_port, "/")
        self.assertEqual(status, 200)
        self.assertIn("text/html", ctype)
        self.assertNotRegex(html, r'(src|href)="(https?:)?//', "external resource on the page")
        self.assertIn("Noto Sans CJK SC", html)
        url = f"http://127.0.0.1:{self.db.metrics_port}/"
        dom = self.chromium("--dump-dom", url)
        # Peers: B's page lists A, by name and key.
        self.assertIn(PEER_NAME, dom)
        self.assertIn(f'data-key="{ka}"', dom)
        self.assertIn(kb, dom)  # the node's own key
        # The conflict: both values, each with its author.
        conflict_rows = re.findall(r'<tr class="conflict">(.*?)</tr>', dom, re.S)
        self.assertEqual(len(conflict_rows), 2, dom)
        values = {re.search(r'<td class="value">(.*?)</td>', r).group(1): r for r in conflict_rows}
        self.assertEqual(set(values), {"王芳", "李雷"})
        self.assertIn(ka[:16], values["王芳"])
        self.assertIn("this node", values["李雷"])
        self.assertIn('href="/report"', dom)
        # /report: the county report's HTML, with when and where it was made.
        st, _, rep = get(self.db.metrics_port, "/report")
        self.assertEqual(st, 200)
        self.assertIn("<html", rep)

        out = OUT or self.tmp.name
        os.makedirs(out, exist_ok=True)
        shot = os.path.join(out, "hearthd_status_page.png")
        if os.path.exists(shot):
            os.unlink(shot)
        self.chromium(f"--screenshot={shot}", "--window-size=1280,1000", url)
        self.assertTrue(os.path.getsize(shot) > 10_000, "screenshot missing or empty")
        print(f"screenshot: {shot}", file=sys.stderr)


def main():
    global OUT
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearthd", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--out", default=None)
    args, rest = ap.parse_known_args()
    th.HEARTHD, th.HEARTH, th.SCHEMA = args.hearthd, args.hearth, args.schema
    OUT = args.out
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
