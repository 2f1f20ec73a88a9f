#!/usr/bin/env python3
"""`hearth seed-county` and `hearth report` end to end (stdlib only).

Usage: test_cli_county.py --hearth PATH/TO/hearth --schema tests/data/test_schema.toml [unittest args]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HEARTH = None
OTHER_SCHEMA = None
TOWNSHIPS = ["城厢镇", "始阳镇", "小河镇", "思经镇", "乐英乡", "多功镇", "仁义镇", "大坪乡", "兴业乡", "新华乡",
             "新场镇", "老场乡", "紫石镇", "两路乡", "鱼泉乡"]


def run(*args, expect=0):
    env = dict(os.environ)
    env.pop("HEARTH_REPLICA", None)
    env.pop("HEARTH_PASSPHRASE", None)
    p = subprocess.run([HEARTH, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"hearth {' '.join(map(str, args))}: exit {p.returncode}, expected {expect}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def jrun(*args, expect=0):
    return json.loads(run(*args, "--json", expect=expect).stdout)


class CountyCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="hearth-county-")
        cls.rep = os.path.join(cls.tmp, "county")
        cls.seeded = jrun("-C", cls.rep, "seed-county", "--seed", 7, "--scale", 0.02, "--unencrypted-identity")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_seed_summary(self):
        s = self.seeded
        self.assertTrue(s["created"])
        self.assertEqual(s["seed"], 7)
        self.assertEqual(s["collections"]["worker"], 970)
        self.assertEqual(s["figures"]["workers.total"], 970)
        self.assertEqual(s["figures"]["wages.recovered_yuan"], 231046)
        self.assertEqual(s["records"], sum(s["collections"].values()))

    def test_report_matches_seed(self):
        r = jrun("-C", self.rep, "report")
        self.assertEqual(r["county"], "天全县")
        self.assertEqual(r["unreadable_scopes"], [])
        figs = {f["key"]: f for f in r["figures"]}
        self.assertEqual(set(figs), set(self.seeded["figures"]))
        for k, v in self.seeded["figures"].items():
            self.assertTrue(figs[k]["available"], k)
            self.assertEqual(figs[k]["value"], v, k)
        text = run("-C", self.rep, "report").stdout
        self.assertIn("Migrant workers in work", text)
        self.assertIn("970", text)

    def test_townships_add_up(self):
        total = 0
        for t in TOWNSHIPS:
            r = jrun("-C", self.rep, "report", "--township", t)
            self.assertEqual(r["filter"]["township"], t)
            total += {f["key"]: f["value"] for f in r["figures"]}["workers.total"]
        self.assertEqual(total, 970)

    def test_date_range(self):
        r = jrun("-C", self.rep, "report", "--from", "2023-02-01", "--to", "2023-03-01")
        self.assertEqual(r["filter"]["from"], "2023-02-01")
        figs = {f["key"]: f["value"] for f in r["figures"]}
        self.assertEqual(figs["events.count"], 1)  # the Spring Breeze fair, 2023-02-01
        self.assertEqual(figs["shuttle.trips"], 0)  # 26 January
        run("-C", self.rep, "report", "--from", "2023-02-30", expect=2)
        run("-C", self.rep, "report", "--from", "2023-03-01", "--to", "2023-02-01", expect=2)

    def test_html(self):
        out = os.path.join(self.tmp, "r.html")
        run("-C", self.rep, "report", "--html", out, "-q")
        with open(out, encoding="utf-8") as f:
            html = f.read()
        self.assertTrue(html.startswith("<!DOCTYPE html>"))
        self.assertIn("<svg", html)
        self.assertNotIn("<script", html)
        self.assertNotIn("http", html)
        run("-C", self.rep, "report", "--html", out, expect=3)  # never overwritten

    def test_unknown_township_lists_known_ones(self):
        p = run("-C", self.rep, "report", "--township", "城厢", expect=2)
        self.assertIn("unknown township '城厢'", p.stderr)
        for t in TOWNSHIPS:
            self.assertIn(t, p.stderr)

    def test_report_says_when_and_where(self):
        me = run("-C", self.rep, "whoami").stdout.strip()
        r = jrun("-C", self.rep, "report")
        self.assertEqual(r["node"], me)
        self.assertGreater(r["generated_ms"], 1_700_000_000_000)
        self.assertIn(f"on node {me[:16]}", run("-C", self.rep, "report").stdout.splitlines()[1])
        out = os.path.join(self.tmp, "when.html")
        run("-C", self.rep, "report", "--html", out, "-q")
        with open(out, encoding="utf-8") as f:
            self.assertIn(f'id="generated">generated ', f.read())

    def test_seed_twice_refused(self):
        run("-C", self.rep, "seed-county", "--scale", 0.02, expect=3)

    def test_bad_usage(self):
        run("-C", os.path.join(self.tmp, "x"), "seed-county", "--scale", 0, expect=2)
        run("-C", os.path.join(self.tmp, "missing"), "report", expect=3)
        other = os.path.join(self.tmp, "other")
        run("init", other, "--unencrypted-identity", "--schema", OTHER_SCHEMA)
        run("-C", other, "seed-county", "--scale", 0.02, expect=2)  # not the county schema

    def test_same_seed_same_records(self):
        again = os.path.join(self.tmp, "again")
        jrun("-C", again, "seed-county", "--seed", 7, "--scale", 0.02, "--unencrypted-identity")

        def content(x):  # records without the authors and clocks, which differ per run
            if isinstance(x, dict):
                return {k: content(v) for k, v in x.items() if k not in ("author", "hlc")}
            if isinstance(x, list):
                return [content(v) for v in x]
            return x

        for coll in ["wage_case", "startup_loan", "shuttle_trip", "child", "village_station"]:
            a = jrun("-C", self.rep, "query", coll)["records"]
            b = jrun("-C", again, "query", coll)["records"]
            self.assertTrue(a, coll)
            self.assertEqual(content(a), content(b), coll)

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    args, rest = ap.parse_known_args()
    HEARTH = os.path.abspath(args.hearth)
    OTHER_SCHEMA = os.path.abspath(args.schema)
    unittest.main(argv=[sys.argv[0], *rest])
