#!/usr/bin/env python3
"""Write-to-visible latency through real hearthd daemons on 127.0.0.1
(docs/benchmarks.md, "Write-to-visible latency").

    latency_bench.py --hearthd BIN --hearth BIN --probe BIN --schema FILE
                     [--count N] [--gap-ms G] [--json]

Four replicas A, B, C, D in a chain (B dials A, C dials B, D dials C: the
demo's ring with one link cut, so D is three hops from A), each served by
its own hearthd with CURVE. hearth_latency_probe commits on A from its own
process (as the CLI or an app would) and reads B (one hop) and D (three
hops) until each write is there. Prints the probe's table (or its JSON).
Every wait is bounded; every daemon is stopped at the end.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hearthd", required=True)
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--gap-ms", type=int, default=25)
    ap.add_argument("--heads-poll-ms", type=int, default=0,
                    help="hearthd [sync] heads_poll_ms (0: hearthd's default)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the replicas and daemon logs (path on stderr)")
    args = ap.parse_args()

    env = dict(os.environ)
    env.pop("HEARTH_PASSPHRASE", None)

    def hearth(*a):
        p = subprocess.run([args.hearth, *a], capture_output=True, text=True, env=env, timeout=60)
        if p.returncode != 0:
            sys.exit(f"hearth {' '.join(a)} exited {p.returncode}: {p.stderr}")
        return p.stdout.strip()

    daemons = []
    with tempfile.TemporaryDirectory(prefix="hearth-latency-") as tmp:
        d = tempfile.mkdtemp(prefix="hearth-latency-") if args.keep else tmp
        if args.keep:
            print(f"keeping {d}", file=sys.stderr)
        names = ["A", "B", "C", "D"]
        dirs = {n: os.path.join(d, n) for n in names}
        for n in names:
            hearth("init", dirs[n], "--schema", args.schema, "--unencrypted-identity")
        hearth("-C", dirs["A"], "keys", "new", "--all")
        keyring = os.path.join(d, "keys")
        hearth("-C", dirs["A"], "keys", "export", keyring)
        for n in names[1:]:
            hearth("-C", dirs[n], "keys", "import", keyring)
        keys = {n: hearth("-C", dirs[n], "whoami") for n in names}
        ports = {n: free_port() for n in names}
        mports = {n: free_port() for n in names}
        try:
            for i, n in enumerate(names):
                lines = [f'replica = "{dirs[n]}"', f'listen = "tcp://127.0.0.1:{ports[n]}"',
                         'log_level = "warn"', "unencrypted_identity = true",
                         f'metrics = "127.0.0.1:{mports[n]}"']
                if i > 0:
                    up = names[i - 1]
                    lines += ["[[peers]]", f'endpoint = "tcp://127.0.0.1:{ports[up]}"', f'key = "{keys[up]}"']
                if args.heads_poll_ms:
                    lines += ["[sync]", f"heads_poll_ms = {args.heads_poll_ms}"]
                cfg = os.path.join(d, n + ".toml")
                with open(cfg, "w") as f:
                    f.write("\n".join(lines) + "\n")
                log = open(os.path.join(d, n + ".log"), "w")
                daemons.append((subprocess.Popen([args.hearthd, "--config", cfg], stdout=log, stderr=log, env=env), log))
            deadline = time.monotonic() + 30
            for n in names:
                while True:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{mports[n]}/healthz", timeout=2) as r:
                            if r.status == 200:
                                break
                    except Exception:
                        pass
                    if time.monotonic() > deadline:
                        sys.exit(f"hearthd {n} did not become healthy")
                    time.sleep(0.1)
            time.sleep(1.0)  # the chain's sessions are up and caught up
            cmd = [args.probe, "--writer", dirs["A"], "--reader", dirs["B"], "--reader", dirs["D"],
                   "--count", str(args.count), "--gap-ms", str(args.gap_ms)]
            if args.json:
                cmd.append("--json")
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
            out = p.stdout.replace(dirs["B"], "B (1 hop)").replace(dirs["D"], "D (3 hops)")
            sys.stdout.write(out)
            if p.returncode != 0:
                sys.stderr.write(p.stderr)
                return p.returncode
            return 0
        finally:
            for proc, log in daemons:
                if proc.poll() is None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
                log.close()


if __name__ == "__main__":
    sys.exit(main())
