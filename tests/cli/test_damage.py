#!/usr/bin/env python3
"""Seeded damaged-storage test of the real `hearth` binary (docs/reliability.md,
"Damaged storage").

Builds one replica with data (two readable authors, an unreadable third one,
deletes, sets, counters), records every command's answer, then for each seed
damages a copy — bit flips, a zeroed page, truncation at a random offset, a
deleted row of one table (mdb_dump / mdb_load, lmdb-utils), an emptied
data.mdb, a foreign identity.key — and runs verify, inspect, digest, query
(equality and range), get, export, log and heads on it. Every command must:

  * end by itself (no signal: a crash fails the seed) within the time limit
    (no hang);
  * give the same answer (exit code and output) as on the undamaged replica,
    unless `verify` reports the damage on that copy: FAILED with every
    problem naming its table, or exit 3 saying the replica is damaged, lost
    or its identity replaced. Another answer, or an error, while `verify`
    says ok is a silent wrong answer and fails the seed.

Seeds: HEARTH_DAMAGE_SEEDS (default 160), first seed HEARTH_DAMAGE_SEED0
(default 1); a failing seed is printed with the command to rerun it alone.
Usage: test_damage.py --hearth PATH/TO/hearth --schema tests/data/test_schema.toml
"""
import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HEARTH = None
SCHEMA = None
TIMEOUT = 60  # seconds per command; a healthy one takes ~20 ms
TABLES = ["meta", "feeds", "heads", "state", "index", "pending", "forks", "frozen", "keys", "opaque", "denied",
          "changes", "history"]
PROBLEM_RE = re.compile(r"^  - (storage|identity|" + "|".join(TABLES) + r"): ", re.M)


class Failure(Exception):
    pass


def run(args, cwd=None, check=True):
    env = dict(os.environ)
    env.pop("HEARTH_REPLICA", None)
    env.pop("HEARTH_PASSPHRASE", None)
    try:
        p = subprocess.run([HEARTH, *map(str, args)], capture_output=True, text=True, errors="backslashreplace", env=env, timeout=TIMEOUT,
                           cwd=cwd)
    except subprocess.TimeoutExpired:
        raise Failure(f"hearth {' '.join(map(str, args))}: no answer after {TIMEOUT} s (hang)")
    if check and p.returncode != 0:
        raise Failure(f"setup: hearth {' '.join(map(str, args))}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p


def build_base(tmp):
    """The undamaged replica A: authors A and B (keys shared), C unreadable."""
    a, b, c = (os.path.join(tmp, n) for n in "abc")
    for d in (a, b, c):
        run(["init", d, "--unencrypted-identity", "--schema", SCHEMA])
    run(["-C", a, "keys", "new", "test.a"])
    run(["-C", c, "keys", "new", "test.b"])  # C's own key, never shared
    ids = []
    for i in range(60):
        p = run(["-C", a, "--json", "put", "item", f"title=t{i % 17}", f"score={i * 7 % 23}",
                 f"stage={['new', 'open', 'done'][i % 3]}", f"price={i / 4}"])
        ids.append(json.loads(p.stdout)["id"])
    for i in range(0, 60, 9):
        run(["-C", a, "delete", "item", ids[i]])
    for i in range(1, 20, 3):
        run(["-C", a, "put", "item", f"title={'long title ' * 40}{i}", "--id", ids[i]])
    ka = os.path.join(tmp, "ka")
    run(["-C", a, "keys", "export", ka])
    run(["-C", b, "keys", "import", ka])  # B writes under A's scope key
    for i in range(15):
        run(["-C", b, "put", "item", f"title=b{i}", f"score={i}"])
    run(["-C", c, "put", "other", "name=unreadable"])
    run(["merge", b, a])
    run(["merge", c, a])  # C's scope key is not shared: its delta stays opaque in A
    return a, ids, c


def commands(ids):
    live = ids[1]  # rewritten with a long title
    return [
        ("verify", ["verify"]),
        ("inspect", ["--json", "inspect"]),
        ("digest", ["digest"]),
        ("query-eq", ["--json", "query", "item", "--where", "title=t5"]),
        ("query-range", ["--json", "query", "item", "--min", "score=3", "--max", "score=11"]),
        ("query-stage", ["--json", "query", "item", "--where", "stage=open"]),
        ("get", ["--json", "get", "item", live]),
        ("get-deleted", ["--json", "get", "item", ids[9]]),
        ("log", ["log"]),
        ("heads", ["--json", "heads"]),
        ("export", ["export", "{out}"]),
    ]


def answer(name, p, out_path):
    """What a command said, in a form comparable across copies."""
    text = p.stdout
    if name == "inspect" and p.returncode == 0:
        j = json.loads(text)
        # is_copy: every damaged replica is a copy of the base (a new data.mdb file).
        for k in ("dir", "map_size", "map_used", "is_copy", "backup_ms"):
            j.pop(k, None)
        text = json.dumps(j, sort_keys=True)
    if name == "export" and p.returncode == 0:
        with open(out_path, "rb") as f:
            text = hashlib.sha256(f.read()).hexdigest()
    return (p.returncode, text)


def run_all(replica, cmds, scratch):
    got = {}
    for name, args in cmds:
        out = os.path.join(scratch, f"bundle-{name}-{time.monotonic_ns()}")
        a = ["-C", replica] + [out if x == "{out}" else x for x in args]
        p = run(a, check=False)
        if p.returncode < 0:
            raise Failure(f"hearth {' '.join(a)}: killed by signal {-p.returncode} (crash)\n{p.stderr[-2000:]}")
        if p.returncode not in (0, 1, 2, 3):
            raise Failure(f"hearth {' '.join(a)}: exit {p.returncode}\n{p.stderr[-2000:]}")
        got[name] = (answer(name, p, out), p)
        if os.path.exists(out):
            os.unlink(out)
    return got


# ---------------------------------------------------------------- damage

def page_size_and_pages(path):
    size = os.path.getsize(path)
    return 4096, max(1, size // 4096)


def flip_bits(path, rng):
    size = os.path.getsize(path)
    n = rng.choice([1, 1, 2, 4, 16])
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        where = []
        for _ in range(n):
            off = rng.randrange(size)
            data[off] ^= 1 << rng.randrange(8)
            where.append(off)
        f.seek(0)
        f.write(data)
    return f"flip {n} bit(s) at {where}"


def zero_page(path, rng):
    psize, pages = page_size_and_pages(path)
    pg = rng.randrange(pages)
    with open(path, "r+b") as f:
        f.seek(pg * psize)
        f.write(b"\0" * psize)
    return f"zero page {pg} of {pages}"


def truncate(path, rng):
    size = os.path.getsize(path)
    off = rng.choice([0, rng.randrange(size), rng.randrange(size) // 4096 * 4096])
    os.truncate(path, off)
    return f"truncate to {off} of {size} bytes"


def dump(path):
    p = subprocess.run(["mdb_dump", "-a", "-n", path], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise Failure(f"mdb_dump: {p.stderr}")
    # Sections: header lines, then (key, value) line pairs until DATA=END.
    sections, cur = [], None
    lines = p.stdout.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("VERSION="):
            cur = {"header": [line], "rows": []}
            sections.append(cur)
        elif line == "HEADER=END":
            cur["header"].append(line)
            i += 1
            while lines[i] != "DATA=END":
                cur["rows"].append((lines[i], lines[i + 1]))
                i += 2
        elif cur is not None and line and not cur["header"][-1] == "HEADER=END":
            cur["header"].append(line)
        i += 1
    return sections


def load(path, sections):
    text = []
    for s in sections:
        text += s["header"]
        for k, v in s["rows"]:
            text += [k, v]
        text.append("DATA=END")
    os.unlink(path)
    p = subprocess.run(["mdb_load", "-n", path], input="\n".join(text) + "\n", capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0:
        raise Failure(f"mdb_load: {p.stderr}")


def delete_row(path, rng, table, key=None):
    sections = dump(path)
    sec = next((s for s in sections if f"database={table}" in s["header"]), None)
    if sec is None or not sec["rows"]:
        return None
    if key is not None:
        want = " " + key.encode().hex()
        idx = next((i for i, (k, _) in enumerate(sec["rows"]) if k == want), None)
        if idx is None:
            return None
    else:
        idx = rng.randrange(len(sec["rows"]))
    k = sec["rows"].pop(idx)[0]
    load(path, sections)
    return f"delete row {k.strip()[:40]}… of table {table}"


def damage(replica, seed, other_identity):
    """Applies one damage chosen by the seed; returns its description."""
    rng = random.Random(seed)
    path = os.path.join(replica, "data.mdb")
    kinds = ["flip", "zero", "truncate", "row"] * 2 + ["meta-schema", "identity", "empty"]
    kind = kinds[seed % len(kinds)]
    if kind == "flip":
        return flip_bits(path, rng)
    if kind == "zero":
        return zero_page(path, rng)
    if kind == "truncate":
        return truncate(path, rng)
    if kind == "meta-schema":
        return delete_row(path, rng, "meta", key=rng.choice(["schema", "hlc", "author", "format"]))
    if kind == "identity":
        shutil.copyfile(other_identity, os.path.join(replica, "identity.key"))
        return "identity.key replaced by another replica's"
    if kind == "empty":
        os.truncate(path, 0)
        return "data.mdb emptied"
    # Each table in turn (the empty ones are skipped by delete_row).
    tables = [t for t in TABLES if t not in ("pending", "forks", "frozen", "denied")]
    return delete_row(path, rng, tables[(seed // len(kinds)) % len(tables)])


def check_seed(seed, base, base_answers, cmds, other_identity, tmp, stats):
    rep = os.path.join(tmp, f"r{seed}")
    shutil.copytree(base, rep)
    try:
        what = damage(rep, seed, other_identity)
        if what is None:
            stats["skipped"] += 1
            return
        try:
            got = run_all(rep, cmds, tmp)
        except Failure as e:
            raise Failure(f"{what}: {e}")
        v_ans, v = got["verify"]
        verify_ok = v.returncode == 0
        if v.returncode == 1:
            if "FAILED" not in v.stdout or not PROBLEM_RE.search(v.stdout):
                raise Failure(f"{what}: verify FAILED without naming a table:\n{v.stdout}")
            if any(l.startswith("  - ") and not PROBLEM_RE.match(l) for l in v.stdout.splitlines()):
                raise Failure(f"{what}: a verify problem names no table:\n{v.stdout}")
        if v.returncode == 3 and not re.search(r"damaged|lost|replaced", v.stderr):
            raise Failure(f"{what}: verify exit 3 without reporting damage:\n{v.stderr}")
        for name, ((rc, text), p) in got.items():
            if (rc, text) == base_answers[name]:
                stats["same"] += 1
                continue
            if name == "verify":
                continue
            # Another answer, or an error: only on a replica verify reports.
            if verify_ok:
                raise Failure(f"{what}: verify says ok, but {name} answers differently (silent wrong answer):\n"
                              f"before: {base_answers[name]}\nnow:    {(rc, text)}\n{p.stderr}")
            if rc == 3 and re.search(r"damaged|lost|replaced", p.stderr):
                stats["exit3"] += 1
            else:
                stats["differs_detected"] += 1
        stats["verify_ok" if verify_ok else ("verify_exit3" if v.returncode == 3 else "verify_failed_seeds")] += 1
    finally:
        shutil.rmtree(rep, ignore_errors=True)


def main():
    global HEARTH, SCHEMA
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    args = ap.parse_args()
    HEARTH, SCHEMA = os.path.abspath(args.hearth), os.path.abspath(args.schema)
    for tool in ("mdb_dump", "mdb_load"):
        if shutil.which(tool) is None:
            print(f"{tool} not found (package lmdb-utils)")
            return 1
    seeds = int(os.environ.get("HEARTH_DAMAGE_SEEDS", "160"))
    seed0 = int(os.environ.get("HEARTH_DAMAGE_SEED0", "1"))
    tmp = tempfile.mkdtemp(prefix="hearth-damage-")
    t0 = time.monotonic()
    try:
        base, ids, other = build_base(tmp)
        cmds = commands(ids)
        base_got = run_all(base, cmds, tmp)
        base_answers = {n: a for n, (a, p) in base_got.items()}
        if base_answers["verify"][0] != 0:
            print("the undamaged replica does not verify:\n" + base_got["verify"][1].stdout)
            return 1
        again = {n: a for n, (a, p) in run_all(base, cmds, tmp).items()}
        if again != base_answers:
            print("answers are not stable on the undamaged replica:",
                  [n for n in again if again[n] != base_answers[n]])
            return 1
        other_identity = os.path.join(other, "identity.key")
        stats = {k: 0 for k in ("same", "exit3", "verify_failed", "differs_detected", "skipped", "verify_ok",
                                "verify_exit3", "verify_failed_seeds")}
        failures = []
        for seed in range(seed0, seed0 + seeds):
            try:
                check_seed(seed, base, base_answers, cmds, other_identity, tmp, stats)
            except Failure as e:
                failures.append(seed)
                print(f"FAIL seed {seed}: {e}\n  rerun: HEARTH_DAMAGE_SEED0={seed} HEARTH_DAMAGE_SEEDS=1 "
                      f"{sys.argv[0]} --hearth {HEARTH} --schema {SCHEMA}", flush=True)
        dt = time.monotonic() - t0
        print(f"{seeds} seeds ({seed0}..{seed0 + seeds - 1}), {len(cmds)} commands each, {dt:.1f} s: "
              f"verify ok {stats['verify_ok']} / FAILED {stats['verify_failed_seeds']} / exit 3 "
              f"{stats['verify_exit3']}, skipped {stats['skipped']}; command runs: {stats['same']} same answer, "
              f"{stats['exit3']} exit 3, {stats['differs_detected']} other answer on a replica verify reports")
        if failures:
            print(f"{len(failures)} failing seed(s): {failures}")
            return 1
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
