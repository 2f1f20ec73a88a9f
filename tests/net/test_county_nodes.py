#!/usr/bin/env python3
"""Multi-process tests of hearthd under the county policy (issue #4).

CountyNodesTest: four real hearthd daemons -- hr, union, civil, township --
on 127.0.0.1 with CURVE, replicas obeying one county root, the policy from
`hearth policy template` (policies/county.toml) with the members added by
`hearth policy add-member` and signed on the root's replica. Topology (a
line; the arrow is the outbound connection, DEALER -> ROUTER):

    civil -> hr -> township <- union

so hr relays civil.children between civil and the township (it holds those
deltas but has no key), and the township relays the union's traffic. Only the
township replica gets the root's deltas by `hearth merge`; the others receive
the policy and their key envelopes over the network. Checks:
  1. a write at each node reaches every node allowed to read it (bounded wait);
  2. the union and hr hold civil.children deltas (relay grants) but cannot
     decrypt them: `get` fails there;
  3. SIGKILL of hr in the middle of a 4,000-delta transfer, restart, and
     convergence with nothing lost;
  4. SIGTERM of the township while the others write; it catches up on restart.
Expected feed heads come from a model of docs/protocol.md ("What is sent to
whom"): node N holds author A's feed up to just before the first delta that
some node on the path from A to N may not receive (read or relay grant).

BacklogMemoryTest: a sender replica with >= 500 MB of deltas (random
4-8 KiB values, incompressible), an empty receiver, two hearthd processes;
RssAnon / RssFile / VmHWM of both sampled from /proc every 50 ms until the
heads are equal; anonymous memory must stay under a bound derived from the
protocol's window and message limits (docs/protocol.md, "Memory").

Usage: test_county_nodes.py --hearthd BIN --hearth BIN --bulk-put BIN
         --county-schema examples/demo_schema.toml --schema tests/data/test_schema.toml
         [unittest args, e.g. CountyNodesTest]
Every wait is bounded; every daemon is killed in tearDown. Set
HEARTH_PRINT_LOGS=1 to print the daemons' logs.
"""
import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_hearthd as th  # noqa: E402  (shared helpers: run, Daemon, free_port, wait_for)
from test_hearthd import Daemon, free_port, wait_for  # noqa: E402

HEARTH = HEARTHD = BULK = COUNTY_SCHEMA = SCHEMA = None

MiB = 1 << 20
# docs/protocol.md and include/hearth/sync.hpp (SyncOptions defaults).
WINDOW_BYTES = 16 * MiB
MAX_MESSAGE_BYTES = 4 * MiB


def run(*args, expect=0):
    return th.run(*map(str, args), expect=expect)


def jrun(*args, expect=0):
    return json.loads(run(*args, "--json", expect=expect).stdout)


def bulk_put(replica, collection, field, count, *extra):
    p = subprocess.run([BULK, replica, collection, field, str(count), *map(str, extra)],
                       capture_output=True, text=True, env=th.env(), timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"hearth_bulk_put {replica} exited {p.returncode}: {p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def heads(replica):
    return {h["author"]: h["seq"] for h in jrun("-C", replica, "heads")["heads"]}


def feed_scopes(replica, author):
    """Scopes of the author's feed, by seq (index 0 = seq 1), as held by `replica`."""
    log = jrun("-C", replica, "log", "--author", author, "-n", 10_000_000, "--reverse")["deltas"]
    scopes = [d["scope"] for d in log]
    assert [d["seq"] for d in log] == list(range(1, len(log) + 1)), "feed has a gap"
    return scopes


def unpartitioned(template):
    """The county template without partitions: no `partitioned_by`,
    `partitions` or `partition` lines, every grant county-wide, and the
    union relaying civil.children (the template before issue #15)."""
    keep = [l for l in template.splitlines()
            if not l.startswith(("partitioned_by = ", "partitions = ", "partition = "))]
    return "\n".join(keep) + ('\n\n[[grants]]\nagency = "union"\nscope = "civil.children"\n'
                              'rights = ["relay"]\n')


def proc_status(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                    out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


class MemorySampler:
    """Samples /proc/PID/status of some processes every `period` seconds."""

    def __init__(self, procs, period=0.05):
        self.procs = procs  # name -> pid
        self.period = period
        self.peak = {n: collections.defaultdict(int) for n in procs}
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        while not self._stop.is_set():
            for n, pid in self.procs.items():
                for k, v in proc_status(pid).items():
                    self.peak[n][k] = max(self.peak[n][k], v)
            self.samples += 1
            self._stop.wait(self.period)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=10)


def metric(daemon, name):
    try:
        text = daemon.metrics()
    except Exception:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class Timer:
    def __init__(self):
        self.t0 = time.monotonic()
        self.rows = []

    def mark(self, what, since=None):
        now = time.monotonic()
        dt = now - (since if since is not None else self.t0)
        self.rows.append((what, dt))
        print(f"  [timing] {what}: {dt:.2f} s", flush=True)
        return now


# ------------------------------------------------------------------ county

NODES = ("hr", "union", "civil", "township")
# Outbound connections: node -> the node it connects to.
LINKS = {"civil": "hr", "hr": "township", "union": "township"}


def neighbours(n):
    out = [b for a, b in LINKS.items() if a == n] + [a for a, b in LINKS.items() if b == n]
    return sorted(out)


def path(src, dst):
    """Nodes after src on the (unique) path src -> dst, dst included."""
    prev = {src: None}
    q = collections.deque([src])
    while q:
        x = q.popleft()
        for y in neighbours(x):
            if y not in prev:
                prev[y] = x
                q.append(y)
    out = []
    x = dst
    while x != src:
        out.append(x)
        x = prev[x]
    return list(reversed(out))


class CountyNodesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hearth-county-")
        self.daemons = {}
        self.timer = Timer()

    def tearDown(self):
        for d in self.daemons.values():
            d.cleanup()
        if os.environ.get("HEARTH_PRINT_LOGS"):
            for n, d in self.daemons.items():
                print(f"---- {n} log\n" + d.read_log())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def p(self, *parts):
        return os.path.join(self.tmp, *parts)

    def dump_logs(self, tail=3000):
        for n, d in self.daemons.items():
            try:
                print(f"---- {n} log (tail)\n" + d.read_log()[-tail:])
            except OSError:
                pass

    # --- set-up: root, policy, replicas, daemons ---
    def make_county(self):
        self.root = self.p("root")
        self.root_key = jrun("init", self.root, "--is-root", "--unencrypted-identity",
                             "--schema", COUNTY_SCHEMA)["author"]
        self.dir, self.key = {}, {}
        for n in NODES:
            self.dir[n] = self.p(n)
            self.key[n] = jrun("init", self.dir[n], "--root", self.root_key, "--unencrypted-identity",
                               "--schema", COUNTY_SCHEMA)["author"]
        self.name_of = {k: n for n, k in self.key.items()}
        self.name_of[self.root_key] = "root"
        # The template (v1), then one member per command (v2..v5). This test
        # exercises relays and the feed-stop rule on whole scopes: it signs
        # the template without its township partitions (docs/policy.md,
        # "Partitioned scopes"; tests/trust/partition_test.cpp covers those),
        # and with the union's relay grant on civil.children that the
        # partitioned template no longer has.
        template = unpartitioned(run("policy", "template").stdout)
        with open(self.p("county.toml"), "w", encoding="utf-8") as f:
            f.write(template)
        run("-C", self.root, "policy", "sign", self.p("county.toml"))
        run("-C", self.root, "policy", "add-member", self.key["hr"], "--name", "county labour bureau", "--agency", "hr")
        run("-C", self.root, "policy", "add-member", self.key["union"], "--name", "county trade union",
            "--agency", "union")
        run("-C", self.root, "policy", "add-member", self.key["civil"], "--name", "civil affairs bureau",
            "--agency", "civil")
        out = jrun("-C", self.root, "policy", "add-member", self.key["township"], "--name", "城厢镇 office",
                   "--agency", "township", "--township", "城厢镇", "--role", "child_care",
                   "--role", "labour_inspector")
        self.assertEqual(out["version"], 5)
        # Only the township (the hub) gets the root's deltas by hand; the
        # policy and the key envelopes reach the others over the network.
        run("merge", self.root, self.dir["township"])
        show = jrun("-C", self.dir["township"], "policy", "show")
        self.assertEqual(show["version"], 5)
        # Rights of each node on each scope, from the signed policy's matrix.
        self.rights = {}
        for n in NODES:
            m = [x for x in show["members"] if x["key"] == self.key[n]][0]
            principals = {"agency:" + m["agency"]} | {"role:" + r for r in m.get("roles") or []}
            for scope, row in show["matrix"].items():
                r = set()
                for pr, rights in row.items():
                    if pr in principals:
                        r |= set(rights.split(","))
                self.rights[(n, scope)] = r
        self.assertEqual(self.rights[("union", "civil.children")], {"relay"})
        self.assertEqual(self.rights[("hr", "civil.children")], {"relay"})
        self.assertIn("read", self.rights[("township", "civil.children")])

        self.port = {n: free_port() for n in NODES}
        for n in NODES:
            peers = [(f"tcp://127.0.0.1:{self.port[LINKS[n]]}", self.key[LINKS[n]])] if n in LINKS else []
            self.daemons[n] = Daemon(n, self.tmp, self.dir[n], self.port[n], peers, free_port())

    def can_read(self, n, scope):
        return scope.startswith("$") or "read" in self.rights[(n, scope)]

    def can_receive(self, n, scope):
        return scope.startswith("$") or bool(self.rights[(n, scope)] & {"read", "relay"})

    def feeds(self):
        """author -> scopes by seq, read from each author's own replica."""
        f = {self.root_key: feed_scopes(self.root, self.root_key)}
        for n in NODES:
            f[self.key[n]] = feed_scopes(self.dir[n], self.key[n])
        return f

    def expected_heads(self, feeds):
        """node -> {author: seq} per docs/protocol.md: every delta this Hearth
        writes is version 3/4, sent as a stub to a peer that may not receive
        its scope, so a feed no longer stops (the feed-stop rule is for
        version 1/2 deltas only); relays forward what they hold (stubs as
        stubs). Every node thus holds every feed whole."""
        exp = {}
        for n in NODES:
            e = {}
            for author, scopes in feeds.items():
                cut = len(scopes)
                if cut > 0:
                    e[author] = cut
            exp[n] = e
        return exp

    def converge(self, what, timeout=90):
        """Waits until every node's heads equal the model's; returns seconds."""
        t0 = time.monotonic()
        exp = self.expected_heads(self.feeds())
        last = {}

        def done():
            for n in NODES:
                last[n] = heads(self.dir[n])
            return all(last[n] == exp[n] for n in NODES)
        try:
            wait_for(done, what, timeout)
        except AssertionError:
            self.dump_logs()
            for n in NODES:
                diff = {self.name_of.get(a, a[:16]): (last[n].get(a), exp[n].get(a))
                        for a in set(last[n]) | set(exp[n]) if last[n].get(a) != exp[n].get(a)}
                print(f"  {n}: (held, expected) {diff}")
            raise
        # Pairs hold equal heads for every feed both may receive.
        for a in NODES:
            for b in NODES:
                for author in set(exp[a]) & set(exp[b]):
                    k = min(exp[a][author], exp[b][author])
                    self.assertGreaterEqual(min(last[a][author], last[b][author]), k)
        return time.monotonic() - t0

    def put(self, n, collection, **fields):
        args = [f"{k}={v}" for k, v in fields.items()]
        j = jrun("-C", self.dir[n], "put", collection, *args)
        return {"node": n, "collection": collection, "id": j["id"], "seq": j["last_seq"],
                "author": j["author"], "fields": fields}

    def check_writes(self, writes, scope_of):
        """Each acknowledged write is readable exactly where the policy and the
        feed rule let it be; returns (readable, refused, blocked) counts."""
        exp = self.expected_heads(self.feeds())
        readable = refused = blocked = 0
        for w in writes:
            scope = scope_of[w["collection"]]
            for n in NODES:
                reach = w["node"] == n or exp[n].get(w["author"], 0) >= w["seq"]
                p = run("-C", self.dir[n], "get", w["collection"], w["id"], "--json", expect=None)
                if self.can_read(n, scope) and reach:
                    self.assertEqual(p.returncode, 0, f"{n} lacks {w}: {p.stderr}")
                    rec = json.loads(p.stdout)
                    for k, v in w["fields"].items():
                        self.assertEqual(rec["fields"][k]["value"], v, f"{n}: {w}")
                    readable += 1
                else:
                    self.assertEqual(p.returncode, 1, f"{n} must not read {w}: {p.stdout}")
                    if self.can_read(n, scope):
                        blocked += 1
                    else:
                        refused += 1
        return readable, refused, blocked

    def held_scopes(self, n):
        """scope -> (deltas held, readable ones) over every feed of node n."""
        out = collections.defaultdict(lambda: [0, 0])
        for d in jrun("-C", self.dir[n], "log", "-n", 10_000_000)["deltas"]:
            out[d["scope"]][0] += 1
            out[d["scope"]][1] += 1 if d["readable"] else 0
        return out

    def wait_metric(self, n, name, pred, what, timeout=60):
        wait_for(lambda: (lambda v: v is not None and pred(v))(metric(self.daemons[n], name)), what, timeout)

    def test_county(self):
        t = self.timer
        self.make_county()
        t0 = t.mark("set-up: root, 4 replicas, policy v5 signed (5 CLI edits)")
        scope_of = {}
        with open(COUNTY_SCHEMA, encoding="utf-8") as f:
            schema_lines = f.read().splitlines()
        for line in schema_lines:
            if line.startswith("[collections.") and line.rstrip().endswith("]") and ".fields" not in line:
                cur = line.strip()[len("[collections."):-1]
            elif line.startswith("scope = "):
                scope_of[cur] = line.split('"')[1]

        # hr starts without a policy, so its ZAP handler admits only the root
        # and refuses civil's first attempts; civil must keep retrying.
        for n in ("hr", "civil"):
            self.daemons[n].start()
        wait_for(lambda: "refused" in self.daemons["hr"].read_log(), "hr refusing civil before the policy", 30)
        for n in ("township", "union"):
            self.daemons[n].start()
        t1 = t.mark("4 daemons started (healthz); hr refused civil until it held the policy", t0)
        # Bootstrap: every node holds policy v5 and its key envelopes.
        wait_for(lambda: all(jrun("-C", self.dir[n], "policy", "show")["version"] == 5 for n in NODES),
                 "policy v5 on every node", 60)
        t.mark("policy v5 + key envelopes reached every node over the network", t1)
        for n in NODES:
            held = {k["scope"] for k in jrun("-C", self.dir[n], "keys", "list")["keys"]}
            self.assertEqual(held, {s for (m, s) in self.rights if m == n and self.can_read(n, s)}, n)

        # ---- 1. a write at each node reaches every node allowed to read it ----
        t2 = time.monotonic()
        writes = [
            self.put("hr", "worker", name="王伟", home_village="大坪村"),
            self.put("union", "station", name="城厢 outdoor workers' station", township="城厢镇"),
            self.put("civil", "child", name="李小红", village="大坪村"),
            self.put("township", "worker", name="张强", home_village="新华村"),
            self.put("township", "child", name="张小明", village="新华村"),
            self.put("township", "wage_case", title="某工地拖欠工资", employer_name="某建筑公司"),
        ]
        secs = self.converge("first writes everywhere")
        readable, refused, blocked = self.check_writes(writes, scope_of)
        self.assertEqual(blocked, 0)
        t.mark(f"6 writes at 4 nodes reached all allowed readers ({readable} reads ok, {refused} refused "
               f"by policy); converged in {secs:.2f} s", t2)

        # ---- 2. civil.children: union and hr hold the deltas but cannot read ----
        for n in ("union", "hr"):
            h = self.held_scopes(n)
            self.assertEqual(h["civil.children"][0], 2, n)  # civil's child + township's child
            self.assertEqual(h["civil.children"][1], 0, n)  # none readable
        for w in writes:
            if w["collection"] == "child":
                run("-C", self.dir["union"], "get", "child", w["id"], expect=1)
                run("-C", self.dir["hr"], "get", "child", w["id"], expect=1)
                run("-C", self.dir["township"], "get", "child", w["id"])
        ins = run("-C", self.dir["hr"], "inspect").stdout
        self.assertRegex(ins, r"civil\.children\s+\d+\s+none \(cannot read\)")
        # Feed-stop rule (docs/protocol.md): the template grants civil relay on
        # hr.wages, so the township's feed reaches civil past its wage case.
        later = self.put("township", "worker", name="赵六", home_village="新华村")
        self.converge("township's worker after its wage case")
        run("-C", self.dir["hr"], "get", "worker", later["id"])
        run("-C", self.dir["civil"], "get", "worker", later["id"])

        # ---- 3. SIGKILL hr (the relay) in the middle of a 4,000-delta transfer ----
        self.daemons["civil"].term()
        backlog_n = 4000
        t3 = time.monotonic()
        b = bulk_put(self.dir["civil"], "child", "name", backlog_n, "--min-bytes", 4096, "--max-bytes", 8192,
                     "--text", "--nosync")
        self.assertEqual(b["commits"], backlog_n)
        t.mark(f"backlog at civil: {backlog_n} deltas, {b['value_bytes'] / MiB:.1f} MiB of values "
               f"(written offline)", t3)
        base = metric(self.daemons["hr"], "hearth_replica_deltas")
        t4 = time.monotonic()
        self.daemons["civil"].start()
        killed_at = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            v = metric(self.daemons["hr"], "hearth_replica_deltas")
            if v is not None and v >= base + backlog_n // 5:
                self.daemons["hr"].kill9()
                killed_at = v - base
                break
            time.sleep(0.02)
        self.assertIsNotNone(killed_at, "hr received nothing of the backlog")
        t.mark(f"hr SIGKILLed holding {int(killed_at)}/{backlog_n} backlog deltas", t4)
        mid = 0 < killed_at < backlog_n
        twn = heads(self.dir["township"]).get(self.key["civil"], 0)
        self.daemons["hr"].start()
        t5 = time.monotonic()
        secs = self.converge("after hr's SIGKILL and restart", 120)
        t.mark(f"converged after restart (township held {twn} of civil's "
               f"{b['last_seq']} deltas at the kill)", t5)
        self.assertTrue(mid or killed_at == backlog_n)
        if not mid:
            print("  [note] the transfer to hr had finished before the kill landed")
        # Nothing lost: every backlog record readable at civil and township,
        # stored unread at hr and the union.
        for n in ("civil", "township"):
            ins = jrun("-C", self.dir[n], "inspect")
            self.assertEqual(ins["collections"]["child"]["records"], backlog_n + 2, n)
        self.assertEqual(self.held_scopes("hr")["civil.children"], [backlog_n + 2, 0])
        self.assertEqual(self.held_scopes("union")["civil.children"], [backlog_n + 2, 0])
        for n in NODES:
            run("-C", self.dir[n], "verify")

        # ---- 4. SIGTERM the township while the others write; it catches up ----
        self.assertEqual(self.daemons["township"].term(), 0)
        t6 = time.monotonic()
        w4 = [
            self.put("hr", "worker", name="钱七", home_village="大坪村"),
            self.put("union", "station", name="新华 legal aid desk", township="新华乡"),
            self.put("civil", "child", name="孙小兰", village="大坪村"),
            self.put("civil", "child", name="周小华", village="新华村"),
            self.put("township", "wage_case", title="offline complaint", employer_name="某砖厂"),
        ]
        # hr <-> civil still sync while the township is down.
        wait_for(lambda: heads(self.dir["hr"]).get(self.key["civil"]) == w4[3]["seq"], "civil -> hr while "
                 "the township is down")
        wait_for(lambda: heads(self.dir["civil"]).get(self.key["hr"]) == w4[0]["seq"], "hr -> civil")
        self.assertLess(heads(self.dir["union"]).get(self.key["hr"], 0), w4[0]["seq"])
        self.daemons["township"].start()
        t7 = time.monotonic()
        secs = self.converge("township catches up after SIGTERM", 90)
        t.mark(f"township caught up after restart ({len(w4)} writes made meanwhile)", t7)
        readable, refused, blocked = self.check_writes(writes + [later] + w4, scope_of)
        self.assertEqual(blocked, 0)
        t.mark(f"final check: {readable} reads ok, {refused} refused by policy, {blocked} withheld by the "
               f"feed-stop rule", t6)
        self.assertEqual(self.held_scopes("union")["civil.children"][1], 0)
        for n in NODES:
            run("-C", self.dir[n], "verify")
        for n in NODES:
            self.assertEqual(self.daemons[n].term(), 0, self.daemons[n].read_log()[-2000:])
        print("  [timing] total: %.1f s" % (time.monotonic() - t.t0))


# ------------------------------------------------------------------ 500 MB


class BacklogMemoryTest(unittest.TestCase):
    TARGET_BYTES = 500 * 1000 * 1000
    # Anonymous memory of a daemon syncing one session: its idle base plus what
    # the protocol lets be in flight (docs/protocol.md, "Memory"):
    #   window (credit: uncredited DELTAS bytes in the sockets' queues)
    #   + 4 x max_message (the message being handled, its parsed deltas,
    #     the batch being applied / read by DeltasSince, the encoder copy).
    BASE_BYTES = 24 * MiB
    BOUND_BYTES = BASE_BYTES + WINDOW_BYTES + 4 * MAX_MESSAGE_BYTES

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hearth-backlog-")
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        if os.environ.get("HEARTH_PRINT_LOGS"):
            for d in self.daemons:
                print(f"---- {d.name} log\n" + d.read_log())
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_500mb_bounded_memory(self):
        t = Timer()
        s, r = os.path.join(self.tmp, "sender"), os.path.join(self.tmp, "receiver")
        ks = jrun("init", s, "--schema", SCHEMA, "--unencrypted-identity")["author"]
        jrun("init", r, "--schema", SCHEMA, "--unencrypted-identity")
        run("-C", s, "keys", "new", "--all")  # exported to the receiver below
        # 4-8 KiB random bytes per record, 16 records per commit (one ~98 KB
        # delta), no fsync: ~86,000 records in ~5,400 deltas.
        n = (self.TARGET_BYTES // 6144) + 1000
        t0 = time.monotonic()
        b = bulk_put(s, "item", "any", n, "--per-commit", 16, "--min-bytes", 4096, "--max-bytes", 8192, "--nosync")
        delta_bytes, n_deltas = b["delta_bytes"], b["last_seq"]
        self.assertGreaterEqual(delta_bytes, self.TARGET_BYTES)
        t.mark(f"sender: {n_deltas} deltas, {delta_bytes / 1e6:.1f} MB stored ({b['records']} records, "
               f"writer {b['seconds']:.1f} s)", t0)
        keys = os.path.join(self.tmp, "s.keys")
        run("-C", s, "keys", "export", keys)
        run("-C", r, "keys", "import", keys)

        ps, pr = free_port(), free_port()
        ds = Daemon("sender", self.tmp, s, ps, [], free_port())
        dr = Daemon("receiver", self.tmp, r, pr, [(f"tcp://127.0.0.1:{ps}", ks)], free_port())
        self.daemons = [ds, dr]
        ds.start()
        idle = proc_status(ds.proc.pid)
        want = heads(s)
        t1 = time.monotonic()
        with MemorySampler({"sender": ds.proc.pid}) as ms_s:
            dr.start()
            idle_r = proc_status(dr.proc.pid)
            with MemorySampler({"receiver": dr.proc.pid}) as ms_r:
                progress = {"n": 0, "next": time.monotonic() + 10}

                def done():
                    v = metric(dr, "hearth_replica_deltas")
                    progress["n"] = v or progress["n"]
                    if time.monotonic() >= progress["next"]:
                        progress["next"] += 10
                        print(f"  ... receiver holds {int(progress['n'])}/{n_deltas} deltas after "
                              f"{time.monotonic() - t1:.0f} s", flush=True)
                    return v == n_deltas
                wait_for(done, "receiver holds every delta", 200)
        secs = time.monotonic() - t1
        self.assertEqual(heads(r), want)
        t.mark(f"transfer: {delta_bytes / 1e6:.0f} MB in {secs:.1f} s ({delta_bytes / 1e6 / secs:.1f} MB/s)", t1)
        self.assertEqual(run("-C", s, "digest").stdout, run("-C", r, "digest").stdout)
        peaks = {"sender": ms_s.peak["sender"], "receiver": ms_r.peak["receiver"]}
        print(f"  memory bound (RssAnon): {self.BOUND_BYTES / MiB:.0f} MiB = base {self.BASE_BYTES / MiB:.0f} "
              f"+ window {WINDOW_BYTES / MiB:.0f} + 4 x max_message {MAX_MESSAGE_BYTES / MiB:.0f} MiB")
        print(f"  idle RssAnon: sender {idle.get('RssAnon', 0) / 1024:.1f} MiB, receiver "
              f"{idle_r.get('RssAnon', 0) / 1024:.1f} MiB; samples: {ms_s.samples}/{ms_r.samples}")
        for name, pk in peaks.items():
            print(f"  {name}: peak RssAnon {pk['RssAnon'] / 1024:.1f} MiB, RssFile {pk['RssFile'] / 1024:.1f} MiB, "
                  f"VmHWM {pk['VmHWM'] / 1024:.1f} MiB (VmHWM counts LMDB's file-backed map)")
        for name, pk in peaks.items():
            self.assertGreater(pk["RssAnon"], 0, name)
            self.assertLess(pk["RssAnon"] * 1024, self.BOUND_BYTES, f"{name} anonymous memory over the bound")
        self.assertEqual(dr.term(), 0)
        self.assertEqual(ds.term(), 0)
        print("  [timing] total: %.1f s" % (time.monotonic() - t.t0))


def main():
    global HEARTH, HEARTHD, BULK, COUNTY_SCHEMA, SCHEMA
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearthd", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--bulk-put", required=True)
    ap.add_argument("--county-schema", required=True)
    ap.add_argument("--schema", required=True)
    args, rest = ap.parse_known_args()
    HEARTH, HEARTHD, BULK = args.hearth, args.hearthd, args.bulk_put
    COUNTY_SCHEMA, SCHEMA = args.county_schema, args.schema
    th.HEARTH, th.HEARTHD, th.SCHEMA = HEARTH, HEARTHD, SCHEMA
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
