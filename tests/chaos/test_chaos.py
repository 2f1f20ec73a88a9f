#!/usr/bin/env python3
"""Partition chaos with real processes (issue #7).

Six `hearthd` nodes on 127.0.0.1 (CURVE), each dialling two others (a ring
plus chords: 0-1-2-3-4-5-0 and 0-3, 1-4, 2-5). One seed drives a schedule of
faults while writers run:

  kill9     SIGKILL a node's hearthd; restarted 1-4 s later
  term      SIGTERM (clean stop); restarted 1-4 s later
  freeze    SIGSTOP for 1-4 s, then SIGCONT (its TCP links hang)
  isolate   restart the node listening on another port and dialling no one:
            a real partition (nobody reaches it, it reaches nobody) for
            2-6 s, then restart it with its normal configuration

Writers use the `hearth` CLI on each node's replica directory, whether its
daemon is up, down or isolated (offline writing), except while it is frozen
(a stopped daemon may hold LMDB's writer lock): new records, and increments
of one counter that every node shares (concurrent edits of one field).

At the end every fault is healed and the run waits (bounded) until all six
digests are equal; then every acknowledged write must be present on every
node and the shared counter must equal the sum of acknowledged increments.

Usage: test_chaos.py --hearthd BIN --hearth BIN --schema FILE
Environment: HEARTH_SEED (default: random, printed), HEARTH_CHAOS_SECONDS
(length of the fault phase, default 45), HEARTH_CHAOS_RUNS (schedules, each
with seed+i, default 1).
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "net"))
import test_hearthd as h  # noqa: E402  (Daemon, run, free_port, wait_for)

NODES = 6
LINKS = [(i, (i + 1) % NODES) for i in range(NODES)] + [(0, 3), (1, 4), (2, 5)]


class Chaos:
    def __init__(self, seed, seconds, d):
        self.rng = random.Random(seed)
        self.seed = seed
        self.seconds = seconds
        self.d = d
        self.reps = [os.path.join(d, f"n{i}") for i in range(NODES)]
        self.counts = {"kill9": 0, "term": 0, "freeze": 0, "isolate": 0}
        self.acked = []        # (node, record id) of every acknowledged put
        self.increments = 0    # acknowledged increments of the shared counter
        self.failed_writes = 0

    # ---- setup ----------------------------------------------------------
    def setup(self):
        for r in self.reps:
            h.run("init", r, "--schema", h.SCHEMA, "--unencrypted-identity")
        # Scope keys are created on node 0 (never implicitly); everyone shares them.
        h.run("-C", self.reps[0], "keys", "new", "--all")
        self.shared = h.run("-C", self.reps[0], "put", "item", "title=shared", "count+=0").stdout.split()[0]
        keys = os.path.join(self.d, "keys")
        h.run("-C", self.reps[0], "keys", "export", keys)
        for r in self.reps[1:]:
            h.run("-C", r, "keys", "import", keys)
        self.keys = [h.run("-C", r, "whoami").stdout.strip() for r in self.reps]
        self.ports = [h.free_port() for _ in range(NODES)]
        self.normal = []
        for i in range(NODES):
            peers = [(f"tcp://127.0.0.1:{self.ports[b]}", self.keys[b]) for a, b in LINKS if a == i]
            self.normal.append(h.Daemon(f"n{i}", self.d, self.reps[i], self.ports[i], peers, h.free_port()))
        self.current = list(self.normal)
        self.state = ["up"] * NODES   # up | down | frozen | isolated
        self.until = [0.0] * NODES    # when the current fault ends

    def start_all(self):
        for dm in self.current:
            dm.start()

    def cleanup(self):
        for dm in self.current + self.normal:
            try:
                if dm.proc and dm.proc.poll() is None:
                    dm.proc.send_signal(signal.SIGCONT)
            except Exception:
                pass
            dm.cleanup()

    # ---- faults ---------------------------------------------------------
    def begin_fault(self, i, now):
        kind = self.rng.choice(["kill9", "kill9", "term", "freeze", "isolate"])
        self.counts[kind] += 1
        dm = self.current[i]
        if kind == "kill9":
            dm.kill9()
            self.state[i] = "down"
        elif kind == "term":
            dm.term()
            self.state[i] = "down"
        elif kind == "freeze":
            dm.proc.send_signal(signal.SIGSTOP)
            self.state[i] = "frozen"
        else:
            dm.term()
            iso = h.Daemon(f"n{i}-isolated", self.d, self.reps[i], h.free_port(), [], h.free_port())
            iso.start()
            self.current[i] = iso
            self.state[i] = "isolated"
        self.until[i] = now + self.rng.uniform(1.0, 4.0 if kind != "isolate" else 6.0)

    def end_fault(self, i):
        st = self.state[i]
        dm = self.current[i]
        if st == "frozen":
            dm.proc.send_signal(signal.SIGCONT)
        elif st == "isolated":
            dm.term()
            dm.cleanup()
            self.current[i] = self.normal[i]
            self.normal[i].start()
        elif st == "down":
            dm.start()
        self.state[i] = "up"

    # ---- writes ---------------------------------------------------------
    def write(self, i, n):
        r = self.reps[i]
        if self.rng.random() < 0.4:
            p = h.run("-C", r, "put", "item", "--id", self.shared, "count+=1", expect=None)
            if p.returncode == 0:
                self.increments += 1
            else:
                self.failed_writes += 1
        else:
            p = h.run("-C", r, "put", "item", f"title=n{i}-w{n}", f"score={n}", expect=None)
            if p.returncode == 0:
                self.acked.append((i, p.stdout.split()[0]))
            else:
                self.failed_writes += 1

    # ---- the run --------------------------------------------------------
    def run(self):
        t0 = time.monotonic()
        end = t0 + self.seconds
        n = 0
        next_fault = t0 + self.rng.uniform(0.5, 1.5)
        while time.monotonic() < end and n < 100000:
            now = time.monotonic()
            self.check_alive()
            for i in range(NODES):
                if self.state[i] != "up" and now >= self.until[i]:
                    self.end_fault(i)
            if now >= next_fault:
                ups = [i for i in range(NODES) if self.state[i] == "up"]
                # At most three nodes faulty at once: the rest keep syncing.
                if ups and NODES - len(ups) < 3:
                    self.begin_fault(self.rng.choice(ups), now)
                next_fault = now + self.rng.uniform(0.5, 2.0)
            writable = [i for i in range(NODES) if self.state[i] != "frozen"]
            self.write(self.rng.choice(writable), n)
            n += 1
            time.sleep(self.rng.uniform(0.0, 0.05))
        for i in range(NODES):
            if self.state[i] != "up":
                self.end_fault(i)
        return time.monotonic() - t0

    def check_alive(self):
        # A daemon that exits by itself (not killed by the schedule) is a bug.
        for i, dm in enumerate(self.current):
            if self.state[i] in ("up", "isolated") and dm.proc.poll() is not None:
                raise AssertionError(f"hearthd n{i} exited by itself ({dm.proc.returncode}), "
                                     f"seed {self.seed}:\n{dm.read_log()[-3000:]}")

    def digests(self):
        return [h.run("-C", r, "digest").stdout.strip() for r in self.reps]

    def converge(self, timeout):
        t0 = time.monotonic()
        h.wait_for(lambda: len(set(self.digests())) == 1, "six equal digests", timeout)
        return time.monotonic() - t0

    def check(self, tc):
        for i, r in enumerate(self.reps):
            out = json.loads(h.run("-C", r, "query", "item", "--json").stdout)
            ids = {rec["id"] for rec in out["records"]}
            missing = [rid for _, rid in self.acked if rid not in ids]
            tc.assertEqual(missing, [], f"node {i} lacks acknowledged records (seed {self.seed})")
            shared = next(rec for rec in out["records"] if rec["id"] == self.shared)
            tc.assertEqual(shared["fields"]["count"]["value"], self.increments,
                           f"node {i}: shared counter (seed {self.seed})")
            h.run("-C", r, "verify")


class ChaosTest(h.unittest.TestCase):
    def test_partition_chaos(self):
        base = int(os.environ.get("HEARTH_SEED", str(random.SystemRandom().randrange(1, 2**31))))
        seconds = float(os.environ.get("HEARTH_CHAOS_SECONDS", "45"))
        runs = int(os.environ.get("HEARTH_CHAOS_RUNS", "1"))
        for k in range(runs):
            seed = base + k
            print(f"chaos schedule {k + 1}/{runs}: HEARTH_SEED={seed} ({seconds:.0f} s of faults, 6 nodes)",
                  flush=True)
            with tempfile.TemporaryDirectory() as d:
                c = Chaos(seed, seconds, d)
                try:
                    c.setup()
                    c.start_all()
                    took = c.run()
                    c.check_alive()
                    try:
                        conv = c.converge(120)
                    except AssertionError:
                        for dm in c.current:
                            print(f"---- {dm.name} log (tail)\n" + dm.read_log()[-3000:])
                        print(f"digests: {c.digests()}; rerun with HEARTH_SEED={seed}")
                        raise
                    c.check_alive()
                    c.check(self)
                    for i, dm in enumerate(c.current):
                        self.assertEqual(dm.term(), 0, f"n{i} did not stop cleanly")
                finally:
                    c.cleanup()
                print(f"  seed {seed}: {took:.1f} s, faults {c.counts}, {len(c.acked)} records + "
                      f"{c.increments} shared increments acknowledged ({c.failed_writes} refused), "
                      f"converged {conv:.1f} s after healing; 0 lost", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearthd", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    args, rest = ap.parse_known_args()
    h.HEARTHD, h.HEARTH, h.SCHEMA = args.hearthd, args.hearth, args.schema
    h.unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
