#!/usr/bin/env python3
"""End-to-end tests of the access-policy commands of `hearth`.

A county root replica and agency replicas obeying it, all real, in temporary
directories; deltas move by bundle file as they would by USB stick (stdlib only).
Usage: test_policy.py --hearth PATH/TO/hearth --schema tests/data/test_schema.toml
                      --template policies/county.toml [unittest args]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HEARTH = None
SCHEMA = None
TEMPLATE = None


def run(*args, expect=0, env_extra=None):
    """Runs hearth; asserts the exit code (None = any, "nonzero" = any but 0)."""
    env = dict(os.environ)
    env.pop("HEARTH_REPLICA", None)
    env.pop("HEARTH_PASSPHRASE", None)
    env.update(env_extra or {})
    p = subprocess.run([HEARTH, *map(str, args)], capture_output=True, text=True, env=env, timeout=60)
    bad = (p.returncode == 0) if expect == "nonzero" else (expect is not None and p.returncode != expect)
    if bad:
        raise AssertionError(f"hearth {' '.join(map(str, args))}: exit {p.returncode}, expected {expect}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def jrun(*args, expect=0):
    return json.loads(run(*args, "--json", expect=expect).stdout)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hearth-policy-")
        self.n = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def init(self, name, *extra):
        d = self.path(name)
        j = jrun("init", d, "--unencrypted-identity", "--schema", SCHEMA, *extra)
        return d, j["author"]

    def move(self, src, dst):
        """Every delta of src that dst lacks, by bundle file; returns the import report."""
        self.n += 1
        b = self.path(f"move{self.n}.bundle")
        run("-C", src, "export", b, "--for", dst)
        return jrun("-C", dst, "import", b)

    def write_file(self, name, text):
        p = self.path(name)
        with open(p, "w", encoding="utf-8") as f:
            f.write(text)
        return p


class TemplateTest(Base):
    def test_template_is_the_file_and_parses(self):
        with open(TEMPLATE, encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(run("policy", "template").stdout, text)
        other = run("policy", "template", "--county", "芦山县").stdout
        self.assertIn('county = "芦山县"', other)
        self.assertNotIn("天全县\"", other)
        self.assertEqual(len(other.splitlines()), len(text.splitlines()))

        # Signing it on a root replica parses it with Policy::Parse.
        root, root_key = self.init("root", "--is-root")
        p = jrun("-C", root, "policy", "sign", TEMPLATE)
        self.assertEqual(p["version"], 1)
        self.assertEqual(p["envelopes"], 0)  # no members, no readers
        show = jrun("-C", root, "policy", "show")
        self.assertEqual(show["version"], 1)
        self.assertEqual(show["county"], "天全县")
        self.assertEqual(show["root"], root_key)
        self.assertEqual([s["name"] for s in show["scopes"]],
                         ["civil.children", "hr.wages", "hr.workers", "township.services", "union.stations"])
        self.assertTrue(all(s["epoch"] == 1 for s in show["scopes"]))
        m = show["matrix"]
        # Partitioned by township (docs/policy.md, "Partitioned scopes"):
        # a grant limited to the member's own township is its own column.
        self.assertEqual(m["hr.workers"], {"agency:civil": "read", "agency:hr": "read,write",
                                           "agency:township[own]": "read,write", "agency:union": "relay"})
        self.assertEqual(m["hr.wages"], {"agency:hr": "read", "role:labour_inspector": "write",
                                         "agency:township": "read,write", "agency:union": "relay",
                                         "agency:civil": "relay"})
        # The union receives no children's records.
        self.assertEqual(m["civil.children"], {"agency:civil": "read,write", "role:child_care[own]": "read,write",
                                               "agency:township[own]": "relay", "agency:hr": "relay"})
        parts = {s["name"]: s.get("partitions", []) for s in show["scopes"]}
        self.assertEqual(len(parts["hr.workers"]), 15)
        self.assertEqual(parts["civil.children"], parts["hr.workers"])
        self.assertEqual(parts["hr.wages"], [])
        self.assertEqual(m["union.stations"], {"agency:union": "read,write", "agency:hr": "read",
                                               "agency:township": "read,relay", "agency:civil": "relay"})
        self.assertEqual(m["township.services"], {"agency:township": "read,write", "agency:hr": "read",
                                                  "agency:civil": "read", "agency:union": "read"})
        self.assertEqual(show["members"], [])
        # Human form: the matrix.
        human = run("-C", root, "policy", "show").stdout
        self.assertIn("version 1, county 天全县", human)
        self.assertRegex(human, r"civil\.children\s+read,write\s+relay")

        # Same version again: refused (exit 2); a derived file with members: signed.
        p = run("-C", root, "policy", "sign", TEMPLATE, expect=2)
        self.assertIn("not newer", p.stderr)
        hr_key = jrun("keygen", self.path("hr.key"))["author"]
        derived = text.replace("version = 1", "version = 2") + (
            f'\n[members."{hr_key}"]\nname = "county HR bureau"\nagency = "hr"\n')
        p = jrun("-C", root, "policy", "sign", self.write_file("v2.toml", derived))
        self.assertEqual(p["version"], 2)
        # One envelope per scope hr may read: hr.wages, union.stations,
        # township.services, and one per township of the partitioned hr.workers.
        self.assertEqual(p["envelopes"], 3 + 15)
        show = jrun("-C", root, "policy", "show")
        readable = [s for s, row in show["matrix"].items() if "read" in row.get("agency:hr", "")]
        self.assertEqual(len(readable), 4)


class PolicyFlowTest(Base):
    def test_county_network(self):
        root, root_key = self.init("root", "--is-root")
        hr, hr_key = self.init("hr", "--root", root_key)
        civil, civil_key = self.init("civil", "--root", root_key)
        union_key = jrun("keygen", self.path("union.key"))["author"]  # a node we only need the key of

        who = jrun("-C", root, "whoami")
        self.assertEqual((who["root"], who["is_root"]), (root_key, True))
        who = jrun("-C", hr, "whoami")
        self.assertEqual((who["root"], who["is_root"]), (root_key, False))
        p = run("-C", hr, "whoami")
        self.assertEqual(p.stdout.strip(), hr_key)  # alone on stdout
        self.assertIn(root_key, p.stderr)
        run("init", self.path("bad"), "--unencrypted-identity", "--root", "xyz", expect=2)
        run("init", self.path("bad2"), "--unencrypted-identity", "--root", root_key, "--is-root", expect=2)

        # No policy yet: agencies cannot write.
        p = run("-C", hr, "put", "item", "title=too early", expect="nonzero")
        self.assertIn("no policy", p.stderr)
        self.assertEqual(jrun("-C", hr, "policy", "show")["version"], 0)

        # The administrator builds the policy command by command.
        run("-C", root, "policy", "add-scope", "test.a", "--description", "wage cases")
        run("-C", root, "policy", "add-scope", "test.b", "--description", "children")
        run("-C", root, "policy", "add-member", hr_key, "--name", "county HR bureau", "--agency", "hr")
        run("-C", root, "policy", "add-member", civil_key, "--name", "civil affairs", "--agency", "civil",
            "--township", "城厢镇", "--role", "child_care")
        run("-C", root, "policy", "add-member", union_key, "--name", "county union", "--agency", "union")
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.a", "--rights", "read")
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.a", "--rights", "read,write")  # replaces
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.b", "--rights", "relay")
        run("-C", root, "policy", "grant", "--agency", "union", "--scope", "test.a", "--rights", "relay")
        run("-C", root, "policy", "grant", "--role", "child_care", "--scope", "test.b", "--rights", "read,write")
        out = jrun("-C", root, "policy", "grant", "--agency", "civil", "--scope", "test.a", "--rights", "read")
        self.assertEqual(out["version"], 11)
        self.assertGreater(out["policy_seq"], 0)
        self.assertGreaterEqual(out["envelopes"], 1)  # civil's key for test.a

        # Errors of the edit commands.
        p = run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "nope", "--rights", "read", expect=2)
        self.assertIn("add-scope", p.stderr)
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.a", "--rights", "fly", expect=2)
        run("-C", root, "policy", "grant", "--agency", "hr", "--role", "x", "--scope", "test.a",
            "--rights", "read", expect=2)
        run("-C", root, "policy", "add-member", hr_key, "--name", "again", "--agency", "hr", expect=2)
        # --dry-run prints the next version without publishing it.
        dry = run("-C", root, "policy", "add-scope", "test.c", "--dry-run").stdout
        self.assertIn("version = 12", dry)
        self.assertIn('[scopes."test.c"]', dry)
        self.assertEqual(jrun("-C", root, "policy", "show")["version"], 11)

        show_root = jrun("-C", root, "policy", "show")
        self.assertEqual(show_root["matrix"]["test.a"],
                         {"agency:hr": "read,write", "agency:union": "relay", "agency:civil": "read"})
        self.assertEqual(len(show_root["grants"]), 5)
        civ = [m for m in show_root["members"] if m["key"] == civil_key][0]
        self.assertEqual((civ["township"], civ["roles"], civ["revoked_after"]), ("城厢镇", ["child_care"], None))

        # Root -> agencies by bundle: every replica derives the same policy.
        for d in (hr, civil):
            rep = self.move(root, d)
            self.assertEqual(rep["rejected"], [])
            self.assertEqual(jrun("-C", d, "policy", "show"), show_root)
        self.assertIn("test.a", [k["scope"] for k in jrun("-C", hr, "keys", "list")["keys"]])

        # Writes where granted are applied; elsewhere refused locally.
        item = run("-C", hr, "put", "item", "title=wage case 17").stdout.strip()
        p = run("-C", hr, "put", "other", "name=王小明", expect="nonzero")
        self.assertIn("no write grant", p.stderr)
        child = run("-C", civil, "put", "other", "name=王小明").stdout.strip()
        p = run("-C", civil, "put", "item", "title=x", expect="nonzero")
        self.assertIn("no write grant", p.stderr)
        self.move(hr, civil)
        self.move(civil, hr)
        self.assertIn("wage case 17", run("-C", civil, "get", "item", item).stdout)  # civil reads test.a
        run("-C", hr, "get", "other", child, expect=1)  # hr only relays test.b
        self.assertEqual(jrun("-C", hr, "denied")["denied"], [])

        # A rogue write: the union's key, a replica that obeys no root, a stolen key.
        rogue = self.path("rogue")
        run("init", rogue, "--identity", self.path("union.key"), "--schema", SCHEMA)
        run("-C", hr, "keys", "export", self.path("a.keys"), "--scope", "test.a")
        run("-C", rogue, "keys", "import", self.path("a.keys"))
        forged = run("-C", rogue, "put", "item", "title=forged").stdout.strip()
        b = self.path("rogue.bundle")
        run("-C", rogue, "export", b)
        p = run("-C", hr, "import", b)
        self.assertRegex(p.stdout, r"denied\s+1")
        self.assertIn("no write grant for scope test.a", p.stdout)  # the reason, in the report
        rep = jrun("-C", hr, "import", b)  # again: a duplicate now
        self.assertEqual(rep["duplicate"], 1)
        den = jrun("-C", hr, "denied")["denied"]
        self.assertEqual(len(den), 1)
        self.assertEqual((den[0]["author"], den[0]["seq"], den[0]["scope"], den[0]["name"]),
                         (union_key, 1, "test.a", "county union"))
        self.assertIn("no write grant for scope test.a", den[0]["reason"])
        human = run("-C", hr, "denied").stdout
        self.assertIn("county union", human)
        self.assertIn("no write grant", human)
        run("-C", hr, "get", "item", forged, expect=1)
        insp = jrun("-C", hr, "inspect")
        self.assertEqual((insp["policy_version"], insp["denied"], insp["root"], insp["is_root"]),
                         (11, 1, root_key, False))
        self.assertIn("denied          1", run("-C", hr, "inspect").stdout)

        # Revocation by feed position: civil wrote seq 1; it writes seq 2 offline.
        run("-C", civil, "put", "other", "--id", child, "name=after")
        p = jrun("-C", root, "policy", "revoke", civil_key, "--after-seq", "1")
        self.assertEqual(p["version"], 12)
        self.assertEqual(sorted((r["scope"], r["from"], r["to"]) for r in p["rotated"]),
                         [("test.a", 1, 2), ("test.b", 1, 2)])  # every scope civil could read
        show = jrun("-C", root, "policy", "show")
        self.assertEqual({s["name"]: s["epoch"] for s in show["scopes"]}, {"test.a": 2, "test.b": 2})
        self.assertEqual([m["revoked_after"] for m in show["members"] if m["key"] == civil_key], [1])
        self.assertRegex(run("-C", root, "policy", "show").stdout, r"test\.b\s+2\s+children")
        self.move(civil, root)
        den = jrun("-C", root, "denied")["denied"]
        self.assertEqual([(d["author"], d["seq"]) for d in den if d["author"] == civil_key], [(civil_key, 2)])
        self.assertIn("revoked after seq 1", [d for d in den if d["author"] == civil_key][0]["reason"])
        self.move(root, hr)
        self.assertEqual(jrun("-C", hr, "policy", "show"), show)
        p = run("-C", root, "policy", "revoke", civil_key, "--after-seq", "1", expect=2)
        self.assertIn("already revoked", p.stderr)

        # Only the root signs.
        p = run("-C", hr, "policy", "sign", TEMPLATE, expect=3)
        self.assertIn("only the county root's replica can sign policy (this replica obeys root " + root_key, p.stderr)
        run("-C", hr, "policy", "add-scope", "x", expect=3)
        self.assertIn("version = 13", run("-C", hr, "policy", "add-scope", "x", "--dry-run").stdout)
        plain, _ = self.init("plain")
        p = run("-C", plain, "policy", "sign", TEMPLATE, expect=3)
        self.assertIn("obeys no county root", p.stderr)

        # A bad policy file: exit 2 with the parser's message (file, line, key).
        bad = self.write_file("bad.toml", 'format = 1\nversion = 20\n\n[scopes."test.a"]\nepoch = 1\ncolour = "red"\n')
        p = run("-C", root, "policy", "sign", bad, expect=2)
        self.assertIn("bad.toml:6", p.stderr)
        self.assertIn("colour", p.stderr)
        bad = self.write_file("bad2.toml", 'format = 1\nversion = 20\n[[grants]]\nagency = "hr"\n'
                                           'scope = "nowhere"\nrights = ["read"]\n')
        p = run("-C", root, "policy", "sign", bad, expect=2)
        self.assertIn("nowhere", p.stderr)
        old = self.write_file("old.toml", 'format = 1\nversion = 3\n')
        p = run("-C", root, "policy", "sign", old, expect=2)
        self.assertIn("set version = 13", p.stderr)
        self.assertEqual(jrun("-C", root, "policy", "show")["version"], 12)


def keyring(*scopes):
    """A keyring file's bytes (docs/storage-format.md): one shared key per scope, epoch 1."""
    out = b"\x01" + len(scopes).to_bytes(4, "big")
    for sc in scopes:
        out += bytes([len(sc)]) + sc.encode() + (1).to_bytes(4, "big") + bytes([0x5A]) * 32
    return out


class SchemaChangeTest(Base):
    """docs/schema.md "Changing a schema": refused changes exit 2 and change nothing;
    the county root publishes the schema; a delta written under a newer schema waits."""

    def schema_text(self):
        with open(SCHEMA, encoding="utf-8") as f:
            return f.read()

    def variant(self, name, version, extra_item_fields="", replace=None):
        text = self.schema_text().replace("format = 1\n", f"format = 1\nversion = {version}\n", 1)
        text = text.replace("[collections.item.fields]\n", "[collections.item.fields]\n" + extra_item_fields, 1)
        if replace:
            self.assertIn(replace[0], text)
            text = text.replace(replace[0], replace[1], 1)
        return self.write_file(name, text)

    def test_set_incompatible_exits_2_and_changes_nothing(self):
        town, _ = self.init("town")
        kr = self.path("keys.kr")
        with open(kr, "wb") as f:
            f.write(keyring("test.a", "test.b"))
        run("-C", town, "keys", "import", kr)
        rid = jrun("-C", town, "put", "item", "score=5")["id"]
        before = run("-C", town, "schema", "show").stdout
        cases = [
            ("counter.toml", ('score = { type = "lww", value = "int", index = true }', 'score = { type = "counter" }'),
             "field item.score: type lww -> counter is not allowed"),
            ("moved.toml", ('scope = "test.a"', 'scope = "test.b"'), "collection item: scope test.a -> test.b"),
            ("reordered.toml", ('order = ["new", "open", "done"]', 'order = ["open", "new", "done"]'),
             "field item.stage: status order [new, open, done] -> [open, new, done] is not allowed"),
        ]
        for name, repl, msg in cases:
            with self.subTest(name):
                p = run("-C", town, "schema", "set", self.variant(name, 1, replace=repl), expect=2)
                self.assertIn(msg, p.stderr)
                self.assertIn("Changing a schema", p.stderr)
                self.assertEqual(run("-C", town, "schema", "show").stdout, before)
                self.assertEqual(jrun("-C", town, "verify")["problems"], [])
                self.assertEqual(jrun("-C", town, "get", "item", rid)["fields"]["score"]["value"], 5)
        # A compatible change (a new field, version 2) is accepted.
        run("-C", town, "schema", "set", self.variant("v2.toml", 2, 'score2 = { type = "lww", value = "int" }\n'))
        self.assertIn("version = 2", run("-C", town, "schema", "show").stdout)
        # Going back is refused: the field would be removed, and the version is older.
        p = run("-C", town, "schema", "set", SCHEMA, expect=2)
        self.assertIn("field item.score2 is removed", p.stderr)
        older = self.variant("v1.toml", 1, 'score2 = { type = "lww", value = "int" }\n')
        p = run("-C", town, "schema", "set", older, expect=2)
        self.assertIn("schema version 1 is older than version 2", p.stderr)

    def test_root_publishes_and_a_newer_delta_waits(self):
        root, root_key = self.init("root", "--is-root")
        a, a_key = self.init("a", "--root", root_key)
        b, b_key = self.init("b", "--root", root_key)
        run("-C", root, "policy", "add-scope", "test.a")
        run("-C", root, "policy", "add-scope", "test.b")
        run("-C", root, "policy", "add-member", a_key, "--name", "office a", "--agency", "a")
        run("-C", root, "policy", "add-member", b_key, "--name", "office b", "--agency", "b")
        for agency in ("a", "b"):
            for scope in ("test.a", "test.b"):
                run("-C", root, "policy", "grant", "--agency", agency, "--scope", scope, "--rights", "read,write")
        self.move(root, a)
        self.move(root, b)

        v2 = self.variant("v2.toml", 2, 'score2 = { type = "lww", value = "int" }\n')
        p = run("-C", a, "schema", "publish", v2, expect=3)  # not the root
        self.assertIn("only the county root", p.stderr)
        out = jrun("-C", root, "schema", "publish", v2)
        self.assertEqual(out["version"], 2)
        p = run("-C", root, "schema", "publish", v2, expect=2)
        self.assertIn("not newer", p.stderr)
        bad = self.variant("bad.toml", 3, replace=('score = { type = "lww", value = "int", index = true }',
                                                   'score = { type = "counter" }'))
        p = run("-C", root, "schema", "publish", bad, expect=2)
        self.assertIn("field item.score: type lww -> counter is not allowed", p.stderr)

        # Office a gets v2 and writes the new field before office b has v2.
        self.move(root, a)
        self.assertIn("version = 2", run("-C", a, "schema", "show").stdout)
        rid = jrun("-C", a, "put", "item", "score2=42")["id"]
        jrun("-C", a, "put", "other", "name=later")
        # Only a's deltas (the root's heads: a's export leaves out what the root wrote).
        heads = self.write_file("root-heads.json", run("-C", root, "heads", "--json").stdout)
        bundle = self.path("a-only.bundle")
        run("-C", a, "export", bundle, "--since-heads", heads)
        rep = jrun("-C", b, "import", bundle)
        self.assertEqual((rep["rejected"], rep["waiting_schema"], rep["applied"]), ([], 1, 1))
        pend = jrun("-C", b, "pending")["pending"]
        self.assertEqual(len(pend), 1)
        self.assertTrue(pend[0]["waiting_schema"])
        self.assertEqual(pend[0]["reason"], "waiting for a newer schema: field item.score2 is not in schema v1")
        self.assertIn("waiting for a newer schema", run("-C", b, "pending").stdout)
        v = jrun("-C", b, "verify")
        self.assertEqual((v["problems"], v["waiting_schema"], v["denied"]), ([], 1, 0))
        # The root's v2 arrives: the delta is applied; a and b converge.
        self.move(root, b)
        self.assertEqual(jrun("-C", b, "pending")["pending"], [])
        self.assertEqual(jrun("-C", b, "get", "item", rid)["fields"]["score2"]["value"], 42)
        self.move(b, a)
        self.assertEqual(jrun("-C", a, "digest"), jrun("-C", b, "digest"))
        # b follows the root's schema now.
        p = run("-C", b, "schema", "set", self.variant("v3.toml", 3, 'score2 = { type = "lww", value = "int" }\n'
                                                       'extra = { type = "lww" }\n'), expect=3)
        self.assertIn("follows the schema the county root publishes", p.stderr)


class RestoreUnderRootTest(Base):
    """A restored backup under a county root: a new member `--like` the old one (docs/durability.md)."""

    def test_restored_identity_writes_once_added_like_the_old_member(self):
        root, root_key = self.init("root", "--is-root")
        hr, hr_key = self.init("hr", "--root", root_key)
        run("-C", root, "policy", "add-scope", "test.a")
        run("-C", root, "policy", "add-member", hr_key, "--name", "county HR bureau", "--agency", "hr",
            "--township", "城厢镇", "--role", "labour_inspector")
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.a", "--rights", "read,write")
        self.move(root, hr)
        run("-C", hr, "put", "item", "title=wage case 17")
        bk = self.path("hr-backup")
        run("-C", hr, "backup", bk)
        run("-C", hr, "put", "item", "title=wage case 18")

        j = jrun("restore", bk, "--unencrypted-identity")
        new = j["author"]
        self.assertEqual(j["old_author"], hr_key)
        self.assertEqual(j["root"], root_key)
        self.assertEqual(j["root_must_run"], f"hearth policy add-member {new} --like {hr_key}")
        p = run("-C", bk, "put", "item", "title=too early", expect="nonzero")
        self.assertIn("unknown member", p.stderr)

        # --like: name, agency, township and roles of the old member; the old member stays.
        run("-C", root, "policy", "add-member", new, expect=2)  # neither --name/--agency nor --like
        run("-C", root, "policy", "add-member", new, "--like", "ab" * 32, expect=2)  # not a member
        run("-C", root, "policy", "add-member", new, "--like", hr_key)
        members = {m["key"]: m for m in jrun("-C", root, "policy", "show")["members"]}
        m = members[new]
        self.assertEqual((m["name"], m["agency"], m["township"], m["roles"]),
                         ("county HR bureau (restored)", "hr", "城厢镇", ["labour_inspector"]))
        self.assertIsNone(members[hr_key]["revoked_after"])
        self.move(root, bk)
        run("-C", bk, "put", "item", "title=from the restored backup")
        for src, dst in ((bk, hr), (hr, bk), (bk, root), (hr, root)):
            rep = self.move(src, dst)
            self.assertEqual((rep["rejected"], rep["fork"]), ([], 0))
        for d in (hr, bk, root):
            self.assertEqual(jrun("-C", d, "forks")["count"], 0)
            self.assertEqual(jrun("-C", d, "denied")["denied"], [], d)
        self.assertEqual(run("-C", hr, "digest").stdout, run("-C", bk, "digest").stdout)

        # The root's replica cannot change identity: only --keep-identity.
        rbk = self.path("root-backup")
        run("-C", root, "backup", rbk)
        p = run("restore", rbk, "--unencrypted-identity", expect=3)
        self.assertIn("--keep-identity", p.stderr)
        run("-C", rbk, "policy", "add-scope", "test.b", expect=3)
        self.assertIn("identity kept", run("restore", rbk, "--keep-identity").stdout)
        self.assertFalse(jrun("-C", rbk, "inspect")["is_copy"])


class WithheldTest(Base):
    """Stubs (issue #15): a node that may not receive a scope gets stubs by
    `export --for`; log, inspect and heads show them; a new policy lets the
    bodies follow."""

    def test_withheld_then_bodies(self):
        root, root_key = self.init("root", "--is-root")
        hr, hr_key = self.init("hr", "--root", root_key)
        uni, uni_key = self.init("union", "--root", root_key)
        run("-C", root, "policy", "add-scope", "test.a", "--description", "wage cases")
        run("-C", root, "policy", "add-scope", "test.b", "--description", "children")
        run("-C", root, "policy", "add-member", hr_key, "--name", "county HR bureau", "--agency", "hr")
        run("-C", root, "policy", "add-member", uni_key, "--name", "county union", "--agency", "union")
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.a", "--rights", "read,write")
        run("-C", root, "policy", "grant", "--agency", "hr", "--scope", "test.b", "--rights", "read,write")
        run("-C", root, "policy", "grant", "--agency", "union", "--scope", "test.a", "--rights", "read")
        self.move(root, hr)
        self.move(root, uni)
        child = run("-C", hr, "put", "other", "name=王小明").stdout.strip()
        item = run("-C", hr, "put", "item", "title=wage case 17").stdout.strip()

        rep = self.move(hr, uni)
        self.assertEqual(rep["rejected"], [])
        self.assertEqual(rep["withheld"], 1)
        self.assertIn("wage case 17", run("-C", uni, "get", "item", item).stdout)  # the feed went on
        run("-C", uni, "get", "other", child, expect=1)
        self.assertEqual(jrun("-C", uni, "inspect")["withheld"], 1)
        self.assertIn("withheld        1", run("-C", uni, "inspect").stdout)
        log = jrun("-C", uni, "log", "--author", hr_key)["deltas"]
        by_scope = {d["scope"]: d for d in log}
        self.assertTrue(by_scope["test.b"]["withheld"])
        self.assertGreater(by_scope["test.b"]["body_size"], 16)
        self.assertFalse(by_scope["test.b"]["readable"])
        self.assertFalse(by_scope["test.a"]["withheld"])
        self.assertIn("WITHHELD", run("-C", uni, "log", "--author", hr_key).stdout)
        self.assertIn("withheld: only the stub is held", run("-C", uni, "log", "--author", hr_key, "--ops").stdout)
        heads = run("-C", uni, "heads").stdout
        self.assertIn("WITHHELD", heads)
        row = [ln for ln in heads.splitlines() if ln.startswith(hr_key)][0]
        self.assertEqual(row.split()[1:3], ["2", "1"])  # seq 2, one withheld

        # The union may read children now: the bodies follow and apply.
        run("-C", root, "policy", "grant", "--agency", "union", "--scope", "test.b", "--rights", "read")
        self.move(root, hr)
        self.move(root, uni)
        rep = self.move(hr, uni)
        self.assertEqual(rep["bodies"], 1)
        self.assertIn("王小明", run("-C", uni, "get", "other", child).stdout)
        self.assertEqual(jrun("-C", uni, "inspect")["withheld"], 0)
        self.assertEqual(run("-C", hr, "digest").stdout, run("-C", uni, "digest").stdout)
        self.assertTrue(jrun("-C", uni, "verify")["ok"])


def main():
    global HEARTH, SCHEMA, TEMPLATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    ap.add_argument("--template", required=True)
    args, rest = ap.parse_known_args()
    HEARTH = os.path.abspath(args.hearth)
    SCHEMA = os.path.abspath(args.schema)
    TEMPLATE = os.path.abspath(args.template)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
