#!/usr/bin/env python3
"""Runs docs/cli.md's "Moving data by USB stick" walk-through exactly as written.

Extracts the first ```console block after that heading, runs every `$ ` line
in order with bash in an empty temp dir (the built `hearth` first on PATH,
HEARTH_PASSPHRASE set, schema.toml = tests/data/test_schema.toml), and checks:
- the exit code is 0, unless the last output line shown ends in "(exit N)";
- the output lines the doc shows under a command appear in the command's
  output (stdout then stderr), in order; `…` matches any text, and runs of
  spaces are not significant. Lines starting with `#` are comments.
Usage: test_doc_usb.py --hearth PATH/TO/hearth --doc docs/cli.md --schema tests/data/test_schema.toml
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HEADING = "### Moving data by USB stick"


def extract(doc_path):
    text = open(doc_path, encoding="utf-8").read()
    at = text.index(HEADING)
    start = text.index("```console\n", at) + len("```console\n")
    end = text.index("```", start)
    steps = []  # (command, [expected lines])
    for line in text[start:end].splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        elif line.startswith("#") or not line.strip():
            continue
        else:
            if not steps:
                raise SystemExit(f"output line before any command: {line!r}")
            steps[-1][1].append(line)
    return steps


def pattern(line):
    parts = [re.escape(p) for p in re.sub(r"\s+", " ", line.strip()).split("…")]
    return re.compile("^" + ".+?".join(parts) + "$")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--schema", required=True)
    a = ap.parse_args()
    steps = extract(a.doc)
    if len(steps) < 8:
        print(f"FAIL: only {len(steps)} commands found in the walk-through")
        return 1
    tmp = tempfile.mkdtemp(prefix="hearth-doc-usb-")
    try:
        bindir = os.path.join(tmp, ".bin")
        os.mkdir(bindir)
        os.symlink(os.path.abspath(a.hearth), os.path.join(bindir, "hearth"))
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        shutil.copy(a.schema, os.path.join(work, "schema.toml"))
        env = dict(os.environ)
        env.pop("HEARTH_REPLICA", None)
        env["HEARTH_PASSPHRASE"] = "correct horse battery staple"
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        failures = 0
        for cmd, expected in steps:
            want_exit = 0
            if expected:
                m = re.search(r"\s*\(exit (\d+)\)\s*$", expected[-1])
                if m:
                    want_exit = int(m.group(1))
                    expected = expected[:-1] + [expected[-1][:m.start()]]
            p = subprocess.run(["bash", "-c", cmd], cwd=work, env=env, capture_output=True, text=True, timeout=120)
            out = [re.sub(r"\s+", " ", l.strip()) for l in (p.stdout + p.stderr).splitlines()]
            problems = []
            if p.returncode != want_exit:
                problems.append(f"exit {p.returncode}, the doc expects {want_exit}")
            i = 0
            for line in expected:
                if not line.strip():
                    continue
                rx = pattern(line)
                while i < len(out) and not rx.match(out[i]):
                    i += 1
                if i == len(out):
                    problems.append(f"doc line not in the output (in order): {line!r}")
                    break
                i += 1
            if problems:
                failures += 1
                print(f"FAIL: $ {cmd}")
                for pr in problems:
                    print(f"  {pr}")
                print("  output:\n    " + "\n    ".join((p.stdout + p.stderr).splitlines()))
            else:
                print(f"ok: $ {cmd}")
        print(f"{len(steps)} commands, {failures} failed")
        return 1 if failures else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
