#!/usr/bin/env python3
"""End-to-end tests of the `hearth` command-line tool.

Runs the real binary on real replicas in temporary directories (stdlib only).
Usage: test_cli.py --hearth PATH/TO/hearth --schema tests/data/test_schema.toml [unittest args]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import unittest

HEARTH = None
SCHEMA = None
KEYRING = None  # one keyring shared by the replicas of every test (see shared_keyring)


def shared_keyring():
    """A keyring with a key for every scope of the test schema, made once.

    No key is made implicitly without a county root (docs/policy.md, "Keys
    without a root"): replicas that write a scope must hold its key, and
    replicas that read each other must hold the same one."""
    global KEYRING
    if KEYRING is None:
        d = tempfile.mkdtemp(prefix="hearth-cli-keys-")
        run("init", os.path.join(d, "k"), "--unencrypted-identity", "--schema", SCHEMA)
        run("-C", os.path.join(d, "k"), "keys", "new", "--all")
        KEYRING = os.path.join(d, "keyring")
        run("-C", os.path.join(d, "k"), "keys", "export", KEYRING)
    return KEYRING


def run(*args, expect=0, input=None, env_extra=None):
    """Runs hearth; asserts the exit code (None = any). Returns CompletedProcess."""
    env = dict(os.environ)
    env.pop("HEARTH_REPLICA", None)
    env.pop("HEARTH_PASSPHRASE", None)
    env.update(env_extra or {})
    p = subprocess.run([HEARTH, *map(str, args)], capture_output=True, text=True, input=input,
                       env=env, timeout=120)
    if expect is not None and p.returncode != expect:
        raise AssertionError(f"hearth {' '.join(map(str, args))}: exit {p.returncode}, expected {expect}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


def jrun(*args, expect=0):
    return json.loads(run(*args, "--json", expect=expect).stdout)


def jrun_env(env_extra, *args, expect=0):
    return json.loads(run(*args, "--json", expect=expect, env_extra=env_extra).stdout)


class Base(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hearth-cli-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def init(self, name, schema=True, keys=True):
        """A new replica; with `keys`, holding the shared keyring (init --keys)."""
        d = self.path(name)
        args = ["init", d, "--unencrypted-identity"] + (["--schema", SCHEMA] if schema else [])
        if keys and schema:
            args += ["--keys", shared_keyring()]
        run(*args)
        return d

    def put(self, d, coll, *assigns, id=None):
        args = ["-C", d, "put", coll, *assigns] + (["--id", id] if id else [])
        return jrun(*args)

    def digest(self, d):
        return run("-C", d, "digest").stdout.strip()

    def share_keys(self, a, b):
        """Both replicas end with every scope key either holds."""
        ka, kb = self.path(f"ka{id(a)}"), self.path(f"kb{id(b)}")
        for f in (ka, kb):
            if os.path.exists(f):
                os.unlink(f)
        run("-C", a, "keys", "export", ka)
        run("-C", b, "keys", "export", kb)
        run("-C", b, "keys", "import", ka)
        run("-C", a, "keys", "import", kb)
        os.unlink(ka)
        os.unlink(kb)


class UsageTest(Base):
    def test_help_everywhere(self):
        p = run("--help")
        self.assertIn("Exit codes", p.stdout)
        for cmd in ["init", "keygen", "whoami", "put", "get", "query", "delete", "log", "heads",
                    "inspect", "verify", "export", "import", "bundle-info", "merge", "diff", "digest",
                    "conflicts", "history", "resolve", "forks", "pending", "backup", "restore", "keys", "schema"]:
            p = run(cmd, "--help")
            self.assertIn("Usage", p.stdout + p.stderr, cmd)

    def test_missing_args_exit_2(self):
        for args in [[], ["bogus"], ["init"], ["keygen"], ["put"], ["get", "item"], ["delete"],
                     ["resolve", "item", "x"], ["export"], ["import"], ["merge", "a"], ["diff"],
                     ["backup"], ["restore"], ["keys"], ["keys", "export"], ["keys", "import"], ["bundle-info"],
                     ["log", "--limit", "x"], ["query"]]:
            p = run(*args, expect=2)
            self.assertTrue(p.stderr.strip(), args)

    def test_typo_suggests_nearest_command(self):
        # `hearth gte` said only "A subcommand is required".
        for args, want in [(["gte"], "did you mean get?"), (["-C", "x", "imprt", "f"], "did you mean import?"),
                           (["verfy", "--json"], "did you mean verify?")]:
            p = run(*args, expect=2)
            self.assertIn(f"unknown command '{args[2] if args[0] == '-C' else args[0]}'", p.stderr)
            self.assertIn(want, p.stderr, args)
        p = run("zzzzzzzz", expect=2)
        self.assertIn("unknown command 'zzzzzzzz'; run `hearth --help`", p.stderr)

    def test_non_replica_dir_exit_3_creates_nothing(self):
        empty = self.path("empty")
        os.mkdir(empty)
        missing = self.path("missing")
        for d in (empty, missing):
            for args in [["whoami"], ["heads"], ["inspect"], ["verify"], ["digest"], ["log"],
                         ["forks"], ["pending"], ["conflicts"], ["query", "item"],
                         ["get", "item", "0" * 32], ["put", "item", "title=x"],
                         ["export", self.path("x.bundle")], ["keys", "list"], ["schema", "show"],
                         ["backup", self.path("bk")]]:
                p = run("-C", d, *args, expect=3)
                self.assertIn("hearth init", p.stderr, args)
            self.assertFalse(os.path.exists(self.path("x.bundle")))
            self.assertFalse(os.path.exists(self.path("bk")))
        self.assertEqual(os.listdir(empty), [])
        self.assertFalse(os.path.exists(missing))
        p = run("merge", missing, empty, expect=3)
        self.assertIn("not", p.stderr)
        self.assertFalse(os.path.exists(missing))
        run("diff", empty, missing, expect=3)
        self.assertEqual(os.listdir(empty), [])


class SetupTest(Base):
    def test_init_whoami_keygen(self):
        d = self.init("a")
        me = run("-C", d, "whoami").stdout.strip()
        self.assertRegex(me, r"^[0-9a-f]{64}$")
        self.assertEqual(jrun("-C", d, "whoami")["author"], me)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(d, "identity.key")).st_mode), 0o600)
        p = run("init", d, expect=3)
        self.assertIn("already", p.stderr)
        run("init", self.path("b"), "--schema", self.path("nope.toml"), expect=2)
        bad = self.path("bad.toml")
        with open(bad, "w") as f:
            f.write("format = 1\n[collections.x]\nscope = 3\n")
        run("init", self.path("c"), "--schema", bad, expect=2)
        self.assertFalse(os.path.exists(self.path("c", "data.mdb")))

        key = self.path("id.key")
        author = jrun("keygen", key)["author"]
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        with open(key, "rb") as f:
            raw = f.read()
        self.assertEqual(len(raw), 72)
        self.assertEqual(raw[:8], b"HRTHID\x01\x00")
        before = raw
        p = run("keygen", key, expect=3)
        self.assertIn("already exists", p.stderr)
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)
        e = self.path("e")
        run("init", e, "--identity", key, "--schema", SCHEMA, "--unencrypted-identity")
        self.assertEqual(run("-C", e, "whoami").stdout.strip(), author)
        junk = self.path("junk.key")
        with open(junk, "wb") as f:
            f.write(b"not a key")
        run("init", self.path("f"), "--identity", junk, expect=3)

    def test_identity_passphrase(self):
        p = run("init", self.path("np"), "--schema", SCHEMA, expect=3)
        self.assertIn("passphrase", p.stderr)
        self.assertFalse(os.path.exists(self.path("np", "identity.key")))
        env = {"HEARTH_PASSPHRASE": "correct horse battery staple"}
        d = self.path("pp")
        run("init", d, "--schema", SCHEMA, env_extra=env)
        with open(os.path.join(d, "identity.key"), "rb") as f:
            self.assertEqual(f.read(8)[6:8], b"\x01\x01")  # version 1, passphrase-protected
        self.assertRegex(run("-C", d, "whoami", env_extra=env).stdout.strip(), r"^[0-9a-f]{64}$")
        run("-C", d, "whoami", expect=3)  # no passphrase: cannot unlock

    def test_unencrypted_identity_and_passphrase_conflict(self):
        env = {"HEARTH_PASSPHRASE": "correct horse battery staple"}
        d = self.path("both")
        p = run("init", d, "--schema", SCHEMA, "--unencrypted-identity", env_extra=env, expect=2)
        self.assertIn("--unencrypted-identity", p.stderr)
        self.assertIn("HEARTH_PASSPHRASE", p.stderr)
        self.assertFalse(os.path.exists(d))  # nothing created
        # With --identity too: the choice is refused before the file is read.
        key = self.path("both.key")
        run("keygen", key)
        run("init", d, "--identity", key, "--unencrypted-identity", env_extra=env, expect=2)
        self.assertFalse(os.path.exists(d))
        # An empty HEARTH_PASSPHRASE is no passphrase: the flag alone decides.
        run("init", d, "--schema", SCHEMA, "--unencrypted-identity", env_extra={"HEARTH_PASSPHRASE": ""})
        with open(os.path.join(d, "identity.key"), "rb") as f:
            self.assertEqual(f.read(8)[6:8], b"\x01\x00")  # version 1, in the clear

    def test_keygen_with_passphrase(self):
        env = {"HEARTH_PASSPHRASE": "correct horse battery staple"}
        key = self.path("p.key")
        author = jrun_env(env, "keygen", key)["author"]
        with open(key, "rb") as f:
            self.assertEqual(f.read(8)[6:8], b"\x01\x01")  # protected
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        p = run("init", self.path("n"), "--identity", key, expect=3)  # cannot unlock it
        self.assertIn("passphrase", p.stderr)
        d = self.path("y")
        run("init", d, "--identity", key, env_extra=env)
        self.assertEqual(run("-C", d, "whoami", env_extra=env).stdout.strip(), author)
        run("keygen", key, env_extra=env, expect=3)  # never overwritten

    def test_schema_show_set_and_keys_list(self):
        d = self.init("a", schema=False)
        run("-C", d, "put", "item", "title=x", expect=2)
        run("-C", d, "schema", "set", SCHEMA)
        self.assertIn("[collections.item", run("-C", d, "schema", "show").stdout)
        cols = [c["name"] for c in jrun("-C", d, "schema")["collections"]]
        self.assertEqual(cols, ["item", "other"])
        run("-C", d, "keys", "new", "test.a")
        self.put(d, "item", "title=x")
        keys = jrun("-C", d, "keys", "list")["keys"]
        self.assertEqual(keys, [{"scope": "test.a", "epoch": 1}])
        out = self.path("k")
        run("-C", d, "keys", "export", out, "--scope", "nosuch", expect=2)
        run("-C", d, "keys", "export", out)
        self.assertEqual(stat.S_IMODE(os.stat(out).st_mode), 0o600)
        run("-C", d, "keys", "export", out, expect=3)  # never overwrites
        with open(self.path("garbage"), "wb") as f:
            f.write(b"\x07garbage")
        run("-C", d, "keys", "import", self.path("garbage"), expect=3)


class KeysTest(Base):
    """Scope keys without a county root (docs/policy.md, "Keys without a root")."""

    def test_no_implicit_key_and_keys_new(self):
        a = self.init("a", keys=False)
        # Nothing to export: exit 1 with the way forward.
        p = run("-C", a, "keys", "export", self.path("none.keys"), expect=1)
        self.assertIn("nothing to export", p.stderr)
        self.assertIn("hearth keys new", p.stderr)
        self.assertFalse(os.path.exists(self.path("none.keys")))
        # A write without the scope's key fails, names both ways forward, writes nothing.
        p = run("-C", a, "put", "item", "title=x", expect=3)
        self.assertIn("no key for scope test.a", p.stderr)
        self.assertIn("`hearth keys new test.a`", p.stderr)
        self.assertIn("import the keyring", p.stderr)
        self.assertEqual(jrun("-C", a, "keys", "list")["keys"], [])
        self.assertEqual(jrun("-C", a, "keys", "new", "--all")["created"],
                         [{"scope": "test.a", "epoch": 1}, {"scope": "test.b", "epoch": 1}])
        p = run("-C", a, "keys", "new", "test.a", expect=3)
        self.assertIn("hearth keys rotate test.a", p.stderr)
        run("-C", a, "keys", "new", "--all", expect=1)  # nothing left to create
        self.put(a, "item", "title=x")
        # init --keys: a second replica starts with A's keyring and reads A.
        k = self.path("a.keys")
        run("-C", a, "keys", "export", k)
        b = self.path("b")
        j = jrun("init", b, "--unencrypted-identity", "--schema", SCHEMA, "--keys", k)
        self.assertEqual(j["keys_imported"], 2)
        self.assertEqual(jrun("-C", b, "keys", "list")["keys"], jrun("-C", a, "keys", "list")["keys"])
        self.put(b, "item", "title=from b")
        bun = self.path("b.bundle")
        run("-C", b, "export", bun)
        self.assertEqual(jrun("-C", a, "import", bun)["applied"], 1)

    def test_missing_key_is_named_by_import_and_get(self):
        a = self.init("a")
        rid = self.put(a, "item", "title=secret")["id"]
        bun = self.path("a.bundle")
        run("-C", a, "export", bun)
        b = self.init("b", keys=False)
        p = run("-C", b, "import", bun)
        self.assertIn("1 delta(s) of scope test.a epoch 1 are held without its key: import it with `hearth keys import`",
                      p.stdout)
        p = run("-C", b, "get", "item", rid, expect=1)
        self.assertIn("not found here; 1 delta(s) of scope test.a are held without a key and may contain it: "
                      "import the key", p.stderr)
        j = jrun("-C", b, "get", "item", rid, expect=1)
        self.assertEqual(j["without_key"], [{"scope": "test.a", "epoch": 1, "deltas": 1, "other_key_held": False}])
        # A record of another scope: a plain "not found".
        p = run("-C", b, "get", "other", rid, expect=1)
        self.assertNotIn("without a key", p.stderr)
        run("-C", b, "keys", "import", shared_keyring())
        self.assertIn("secret", run("-C", b, "get", "item", rid).stdout)

    def test_two_keys_diverged_rotate_and_share(self):
        # A creates the key; B creates its own before importing A's.
        a = self.init("a", keys=False)
        b = self.init("b", keys=False)
        run("-C", a, "keys", "new", "test.a")
        run("-C", b, "keys", "new", "test.a")
        ra = self.put(a, "item", "title=from a")["id"]
        rb = self.put(b, "item", "title=from b")["id"]
        ab, bb = self.path("a1.bundle"), self.path("b1.bundle")
        run("-C", a, "export", ab)
        run("-C", b, "export", bb)
        # Stored unreadable, not refused: the feeds go on.
        for d, bun in ((b, ab), (a, bb)):
            p = run("-C", d, "import", bun)
            self.assertIn("1 delta(s) of scope test.a epoch 1 are held unreadable: the key held here for it is a "
                          "different one", p.stdout)
        self.assertEqual(jrun("-C", a, "heads")["heads"], jrun("-C", b, "heads")["heads"])
        # Importing the other's keyring does not fail the import; the clash is named, exit 1.
        ka = self.path("a.keys")
        run("-C", a, "keys", "export", ka)
        p = run("-C", b, "keys", "import", ka, expect=1)
        self.assertIn("not imported: scope test.a epoch 1", p.stderr)
        self.assertIn("hearth keys rotate test.a", p.stderr)
        # The way out: A rotates, B imports the new epoch; both then write under epoch 2.
        self.assertEqual(jrun("-C", a, "keys", "rotate", "test.a"), {"scope": "test.a", "epoch": 2})
        k2 = self.path("a2.keys")
        run("-C", a, "keys", "export", "--scope", "test.a", k2)
        j = jrun("-C", b, "keys", "import", k2, expect=1)  # epoch 1 still differs
        self.assertEqual((j["added"], j["conflicts"]), (1, [{"scope": "test.a", "epoch": 1}]))
        shared = self.put(a, "item", "title=shared")["id"]
        self.put(b, "item", "count+=2", id=shared)
        ab, bb = self.path("a2.bundle"), self.path("b2.bundle")
        run("-C", a, "export", ab)
        run("-C", b, "export", bb)
        self.assertEqual(jrun("-C", b, "import", ab)["applied"], 1)
        self.assertEqual(jrun("-C", a, "import", bb)["applied"], 1)
        for d in (a, b):
            rec = jrun("-C", d, "get", "item", shared)
            self.assertEqual(rec["fields"]["title"]["value"], "shared")
            self.assertIn("count", rec["fields"])
        # Old deltas: readable by whoever holds each old key.
        run("-C", a, "get", "item", ra)
        run("-C", b, "get", "item", rb)
        run("-C", a, "get", "item", rb, expect=1)
        run("-C", b, "get", "item", ra, expect=1)


class RecordTest(Base):
    def test_put_get_query_delete(self):
        d = self.init("a")
        other = self.put(d, "item", "title=target")["id"]
        r = self.put(d, "item", "title=hello", "score=5", "price=2.5", "tags+=a", "tags+=b",
                     "count+=3", "stage=open", "notes+=first note", "owner=alice", f"ref=ref:{other}",
                     "any=@1000")
        rid = r["id"]
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        self.assertGreaterEqual(r["last_seq"], r["first_seq"])
        self.put(d, "item", "count-=1", "tags-=a", "notes+=second", "stage=done", id=rid)
        g = jrun("-C", d, "get", "item", rid)
        f = g["fields"]
        self.assertEqual(f["title"]["value"], "hello")
        self.assertEqual(f["score"]["value"], 5)
        self.assertEqual(f["price"]["value"], 2.5)
        self.assertEqual(f["tags"]["values"], ["b"])
        self.assertEqual(f["count"]["value"], 2)
        self.assertEqual(f["stage"]["value"], "done")
        self.assertEqual([e["value"] for e in f["notes"]["entries"]], ["first note", "second"])
        self.assertEqual(f["owner"]["values"], ["alice"])
        self.assertEqual(f["ref"]["value"], {"$ref": other})
        self.assertEqual(f["any"]["value"], {"$ts": 1000})
        human = run("-C", d, "get", "item", rid).stdout
        self.assertIn("hello", human)
        self.assertIn("FIELD", human)
        # --set-json
        j = self.put(d, "item", "--set-json",
                     '{"title": "json", "score": 7, "tags": ["x", "y"], "count": 4, "any": {"$bytes": "00ff"}}')
        f = jrun("-C", d, "get", "item", j["id"])["fields"]
        self.assertEqual((f["title"]["value"], f["score"]["value"], f["tags"]["values"], f["count"]["value"]),
                         ("json", 7, ["x", "y"], 4))
        self.assertEqual(f["any"]["value"], {"$bytes": "00ff"})
        # string fields keep digit-only text as strings
        self.put(d, "item", "title=0123", id=j["id"])
        self.assertEqual(jrun("-C", d, "get", "item", j["id"])["fields"]["title"]["value"], "0123")
        # query
        q = jrun("-C", d, "query", "item", "--where", "score=5")
        self.assertEqual([x["id"] for x in q["records"]], [rid])
        q = jrun("-C", d, "query", "item", "--min", "score=1", "--max", "score=10")
        self.assertEqual(q["count"], 2)
        self.assertEqual(jrun("-C", d, "query", "item", "--limit", "1")["count"], 1)
        self.assertEqual(jrun("-C", d, "query", "item")["count"], 3)
        self.assertEqual(jrun("-C", d, "query", "item", "--where", "stage=done")["count"], 1)
        self.assertIn(rid, run("-C", d, "query", "item").stdout)
        run("-C", d, "query", "item", "--where", "tags=a", expect=2)  # not indexed
        run("-C", d, "query", "item", "--where", "score=1", "--min", "title=a", expect=2)
        # delete
        run("-C", d, "delete", "item", rid)
        self.assertTrue(jrun("-C", d, "get", "item", rid)["deleted"])
        self.assertEqual(jrun("-C", d, "query", "item")["count"], 2)
        self.assertEqual(jrun("-C", d, "query", "item", "--deleted")["count"], 3)
        run("-C", d, "delete", "item", "0" * 32, expect=1)
        run("-C", d, "verify")

    def test_bad_values_exit_2(self):
        d = self.init("a")
        rid = self.put(d, "item", "title=x")["id"]
        before = self.digest(d)
        for args in [["item", "score=abc"], ["item", "price=abc"], ["nosuch", "x=1"],
                     ["item", "nosuch=1"], ["item", "tags=a"], ["item", "count+=x"],
                     ["item", "count=3"], ["item", "stage=bogus"], ["item", "stage+=open"],
                     ["item", "notes=x"], ["item", "title+=x"], ["item", "ref=ref:zz"],
                     ["item", "ref=hello"], ["item", "noequals"], ["item", "=x"], ["item"],
                     ["item", "--set-json", "{bad"], ["item", "--set-json", "[1]"],
                     ["item", "--set-json", '{"count": "x"}'], ["item", "title=x", "--id", "123"],
                     ["other", "name=5", "n+=1", "score=1"]]:
            p = run("-C", d, "put", *args, expect=2)
            self.assertTrue(p.stderr.startswith("hearth: "), (args, p.stderr))
        p = run("-C", d, "put", "item", "score=abc", expect=2)
        self.assertIn("score", p.stderr)
        self.assertEqual(self.digest(d), before)
        run("-C", d, "get", "item", "nothex", expect=2)
        run("-C", d, "get", "nosuch", rid, expect=2)
        p = run("-C", d, "get", "item", "1" * 32, expect=1)
        self.assertIn("no record", p.stderr)
        run("-C", d, "resolve", "item", rid, "title", "y", expect=2)  # not an mv field
        run("-C", d, "log", "--author", "xyz", expect=2)


class SyncTest(Base):
    def two(self):
        a, b = self.init("a"), self.init("b")
        for i in range(5):
            self.put(a, "item", f"title=a{i}", f"score={i}", "tags+=from-a")
        for i in range(4):
            self.put(b, "other", f"name=b{i}", "n+=2")
        self.share_keys(a, b)  # before B writes to scope test.a (else two epoch-1 keys)
        self.put(b, "item", "title=from b")
        return a, b

    def test_round_trip(self):
        a, b = self.two()
        self.assertNotEqual(self.digest(a), self.digest(b))
        p = run("diff", a, b, expect=1)
        self.assertIn("differ", p.stdout)
        self.assertFalse(jrun("diff", a, b, expect=1)["same"])
        # A -> B with the receiver's heads as JSON; B -> A for a replica dir.
        heads_b = self.path("heads_b.json")
        with open(heads_b, "w") as f:
            f.write(run("-C", b, "heads", "--json").stdout)
        ab, ba = self.path("a2b.bundle"), self.path("b2a.bundle")
        e = jrun("-C", a, "export", ab, "--since-heads", heads_b)
        self.assertEqual(e["entries"], 5)
        e = jrun("-C", b, "export", ba, "--for", a)
        self.assertEqual(e["entries"], 5)
        self.assertFalse(os.path.exists(ab + ".tmp"))
        info = jrun("bundle-info", ab)
        self.assertEqual(info["entries"], 5)
        r = jrun("-C", b, "import", ab)
        self.assertEqual((r["applied"], r["rejected"]), (5, []))
        r = jrun("-C", a, "import", ba)
        self.assertEqual((r["applied"], r["rejected"]), (5, []))
        self.assertEqual(self.digest(a), self.digest(b))
        run("-C", a, "verify")
        self.assertTrue(jrun("-C", b, "verify")["ok"])
        self.assertTrue(jrun("diff", a, b)["same"])
        self.assertIn("no differences", run("diff", a, b).stdout)
        # Export again for B: nothing new.
        self.assertEqual(jrun("-C", a, "export", self.path("none.bundle"), "--for", b)["entries"], 0)
        run("-C", b, "import", self.path("none.bundle"))
        # Refuses to overwrite an existing bundle.
        p = run("-C", a, "export", ab, expect=3)
        self.assertIn("already exists", p.stderr)
        run("-C", a, "export", self.path("x"), "--since-heads", self.path("nope.json"), expect=3)
        with open(self.path("bad.json"), "w") as f:
            f.write('{"heads": 3}')
        run("-C", a, "export", self.path("x"), "--since-heads", self.path("bad.json"), expect=2)

    def test_import_twice_is_noop(self):
        a, b = self.two()
        bun = self.path("all.bundle")
        run("-C", a, "export", bun)  # from scratch
        r1 = jrun("-C", b, "import", bun)
        self.assertEqual(r1["applied"], 5)
        self.assertEqual(r1["duplicate"], 0)
        d1 = self.digest(b)
        heads1 = jrun("-C", b, "heads")
        r2 = jrun("-C", b, "import", bun)
        self.assertEqual((r2["applied"], r2["duplicate"]), (0, 5))
        self.assertEqual(self.digest(b), d1)
        self.assertEqual(jrun("-C", b, "heads"), heads1)
        p = run("-C", b, "import", bun)
        self.assertIn("duplicate", p.stdout)

    def corrupt_cases(self, data):
        n = len(data)
        flip_mid = bytearray(data)
        flip_mid[n // 2] ^= 0x40
        flip_trailer = bytearray(data)
        flip_trailer[-1] ^= 1
        bad_magic = b"X" + data[1:]
        bad_len = bytearray(data)
        # the first entry's length (after magic, version and two head lists)
        since = struct.unpack(">I", data[9:13])[0]
        off = 13 + 72 * since
        covers = struct.unpack(">I", data[off:off + 4])[0]
        off += 4 + 72 * covers
        bad_len[off:off + 4] = struct.pack(">I", 0)
        return {"flip-middle": bytes(flip_mid), "flip-trailer": bytes(flip_trailer),
                "truncated": data[: n - 50], "truncated-half": data[: n // 2],
                "bad-magic": bad_magic, "zero-length": bytes(bad_len), "trailing": data + b"\0",
                "empty": b""}

    def test_corrupt_bundle_rejected_then_resume(self):
        a, b = self.two()
        bun = self.path("a.bundle")
        run("-C", a, "export", bun, "--for", b)
        with open(bun, "rb") as f:
            data = f.read()
        before = self.digest(b)
        heads_before = jrun("-C", b, "heads")
        for name, content in self.corrupt_cases(data).items():
            bad = self.path(f"bad-{name}.bundle")
            with open(bad, "wb") as f:
                f.write(content)
            p = run("-C", b, "import", bad, expect=3)
            self.assertIn("nothing was applied", p.stderr, name)
            if name != "empty":
                self.assertRegex(p.stderr, r"offset \d+|magic", name)
            run("bundle-info", bad, expect=3)
            self.assertEqual(self.digest(b), before, name)
            self.assertEqual(jrun("-C", b, "heads"), heads_before, name)
        run("-C", b, "import", self.path("missing.bundle"), expect=3)
        # The full bundle then applies cleanly.
        r = jrun("-C", b, "import", bun)
        self.assertEqual((r["applied"], r["rejected"]), (5, []))
        run("-C", b, "verify")

    def test_tampered_delta_with_valid_checksum_is_rejected(self):
        a, b = self.two()
        bun = self.path("a.bundle")
        run("-C", a, "export", bun, "--for", b)
        with open(bun, "rb") as f:
            data = bytearray(f.read())
        # Flip a byte inside the last entry, then re-seal the trailer hash.
        body_end = len(data) - 44
        data[body_end - 10] ^= 0x01
        data[-32:] = hashlib.blake2b(bytes(data[:body_end]), digest_size=32).digest()
        bad = self.path("tampered.bundle")
        with open(bad, "wb") as f:
            f.write(data)
        r = jrun("-C", b, "import", bad, expect=1)
        self.assertEqual(r["applied"], 4)
        self.assertEqual(len(r["rejected"]), 1)
        self.assertTrue(r["rejected"][0]["reason"])
        run("-C", b, "verify")
        r = jrun("-C", b, "import", bun)  # the good copy completes it
        self.assertEqual((r["applied"], r["duplicate"]), (1, 4))

    def test_pending_and_stored(self):
        a = self.init("a")
        for i in range(3):
            self.put(a, "item", f"title={i}")
        heads = jrun("-C", a, "heads")
        for i in range(3):
            self.put(a, "item", f"title=later{i}")
        hf = self.path("h.json")
        with open(hf, "w") as f:
            json.dump(heads, f)
        tail = self.path("tail.bundle")
        run("-C", a, "export", tail, "--since-heads", hf)
        # A replica with the keys but none of the first deltas: gap -> pending.
        c = self.init("c")
        self.share_keys(a, c)
        r = jrun("-C", c, "import", tail)
        self.assertEqual(r["pending"], 3)
        self.assertEqual(jrun("-C", c, "pending")["count"], 3)
        self.assertIn("gap", run("-C", c, "pending").stdout)
        full = self.path("full.bundle")
        run("-C", a, "export", full)
        r = jrun("-C", c, "import", full)
        self.assertEqual(r["applied"] + r["unblocked"], 6)
        self.assertEqual(jrun("-C", c, "pending")["count"], 0)
        self.assertEqual(self.digest(a), self.digest(c))
        # A replica without the key stores (relays) without reading.
        relay = self.init("relay", keys=False)
        r = jrun("-C", relay, "import", full)
        self.assertEqual(r["unreadable"], 6)
        self.assertEqual(r["without_key"], [{"scope": "test.a", "epoch": 1, "deltas": 6, "other_key_held": False}])
        self.assertEqual(jrun("-C", relay, "verify")["ok"], True)
        log = jrun("-C", relay, "log", "--ops")["deltas"]
        self.assertTrue(all(not d["readable"] for d in log if d["author"] != jrun("-C", relay, "whoami")["author"]))

    def test_merge_diff_conflicts_resolve(self):
        a, b = self.two()
        r = jrun("merge", a, b)
        self.assertEqual(r["applied"], 5)
        r = jrun("merge", b, a)
        self.assertEqual(r["applied"], 5)
        self.assertEqual(jrun("merge", b, a)["applied"], 0)
        self.assertTrue(jrun("diff", a, b)["same"])
        # Concurrent mv writes -> a conflict on both sides.
        rid = self.put(a, "item", "owner=alice")["id"]
        run("merge", a, b)
        self.put(a, "item", "owner=bob", id=rid)
        self.put(b, "item", "owner=carol", id=rid)
        d = jrun("diff", a, b, expect=1)
        self.assertEqual(d["record_differences"], 1)
        self.assertIn("owner", d["records"][0]["difference"])
        run("merge", a, b)
        run("merge", b, a)
        for x in (a, b):
            c = jrun("-C", x, "conflicts")
            self.assertEqual(c["count"], 1)
            self.assertEqual(c["conflicts"][0]["values"], ["bob", "carol"])
        self.assertIn("CONFLICT", run("-C", a, "get", "item", rid).stdout)
        run("-C", a, "resolve", "item", rid, "owner", "bob")
        run("merge", a, b)
        for x in (a, b):
            self.assertEqual(jrun("-C", x, "conflicts")["count"], 0)
            self.assertIn("no conflicts", run("-C", x, "conflicts").stdout)
        self.assertEqual(self.digest(a), self.digest(b))
        run("merge", a, a, expect=3)  # one process cannot open a replica twice

    def test_conflict_sources_and_history(self):
        a, b = self.two()
        run("merge", a, b)
        rid = self.put(a, "item", "owner=alice", "title=t1")["id"]
        run("merge", a, b)
        self.put(a, "item", "owner=bob", id=rid)
        self.put(b, "item", "owner=carol", "count+=2", id=rid)
        run("merge", a, b)
        run("merge", b, a)
        wa, wb = jrun("-C", a, "whoami")["author"], jrun("-C", b, "whoami")["author"]
        c = jrun("-C", a, "conflicts", "item")["conflicts"]
        self.assertEqual(len(c), 1)
        src = {s["value"]: s["author"] for s in c[0]["sources"]}
        self.assertEqual(src, {"bob": wa, "carol": wb})
        self.assertTrue(all(isinstance(s["hlc"], str) for s in c[0]["sources"]))
        self.assertIn(wa[:16], run("-C", a, "conflicts").stdout)
        # History: every op on the record, oldest first, HLCs as strings.
        h = jrun("-C", b, "history", "item", rid)
        self.assertEqual(h["count"], 5)
        ops = [(e["author"], e["field"], e["operation"]) for e in h["history"]]
        self.assertEqual(sorted(ops[:2]), [(wa, "owner", "mv_set"), (wa, "title", "set")])
        self.assertEqual(ops[2], (wa, "owner", "mv_set"))
        self.assertEqual(sorted(ops[3:]), [(wb, "count", "counter"), (wb, "owner", "mv_set")])
        self.assertEqual([e["value"] for e in h["history"] if e["field"] == "owner"], ["alice", "bob", "carol"])
        self.assertTrue(all(isinstance(e["hlc"], str) for e in h["history"]))
        self.assertIn("mv_set", run("-C", b, "history", "item", rid).stdout)
        self.assertEqual(jrun("-C", b, "history", "item", "0" * 32)["count"], 0)
        run("-C", b, "history", "item", "zz", expect=2)
        run("-C", b, "history", "nope", rid, expect=2)


class RestoreTest(Base):
    """A backup or copied replica refuses to write until `hearth restore` (docs/durability.md)."""

    def keyring(self):
        """A keyring holding the test scopes' keys (shared by every replica of a test)."""
        src, kr = self.path("keysrc"), self.path("keys.ring")
        if os.path.exists(kr):
            return kr
        self.init("keysrc")
        for scope in ("test.a", "test.b"):
            if run("-C", src, "keys", "new", scope, expect=None).returncode != 0:
                # No `keys new`: a first write creates the scope's key.
                self.put(src, "item" if scope == "test.a" else "other",
                         "title=k" if scope == "test.a" else "name=k")
        run("-C", src, "keys", "export", kr)
        return kr

    def replica(self, name):
        d = self.init(name)
        run("-C", d, "keys", "import", self.keyring())
        return d

    def test_backup_and_copy_refuse_writes_until_restore(self):
        a = self.replica("a")
        rec = self.put(a, "item", "title=one")["id"]
        old = run("-C", a, "whoami").stdout.strip()
        bk = self.path("bk")
        out = run("-C", a, "backup", bk).stdout
        self.assertIn(f"hearth restore {bk}", out)
        cp = self.path("cp")
        shutil.copytree(a, cp)  # cp -r
        for d in (bk, cp):
            before, heads = self.digest(d), run("-C", d, "--json", "heads").stdout
            p = run("-C", d, "put", "item", "title=forked", "--id", rec, expect=3)
            self.assertIn("is a copy of a replica", p.stderr)
            self.assertIn(f"run `hearth restore {d}` first", p.stderr)
            self.assertEqual(self.digest(d), before)
            self.assertEqual(run("-C", d, "--json", "heads").stdout, heads)
            self.assertTrue(jrun("-C", d, "inspect")["is_copy"])
            self.assertIn("refuses local writes", run("-C", d, "inspect").stdout)
            run("-C", d, "verify")
        self.assertGreater(jrun("-C", bk, "inspect")["backup_ms"], 0)
        self.assertEqual(jrun("-C", cp, "inspect")["backup_ms"], 0)
        self.assertFalse(jrun("-C", a, "inspect")["is_copy"])
        self.put(a, "item", "title=two", id=rec)  # the original goes on

        # The live replica has nothing to restore; a new identity needs a passphrase choice.
        p = run("restore", a, expect=3)
        self.assertIn("live copy", p.stderr)
        p = run("restore", bk, expect=3)
        self.assertIn("passphrase", p.stderr)
        j = jrun("restore", bk, "--unencrypted-identity")
        self.assertEqual(j["old_author"], old)
        self.assertNotEqual(j["author"], old)
        self.assertTrue(j["new_identity"])
        self.assertIsNone(j["root_must_run"])
        self.assertTrue(os.path.exists(os.path.join(bk, f"identity.{old[:16]}.retired")))
        self.assertEqual(run("-C", bk, "whoami").stdout.strip(), j["author"])
        self.assertFalse(jrun("-C", bk, "inspect")["is_copy"])
        self.put(bk, "item", "title=from the restored backup")
        out = run("restore", cp, "--unencrypted-identity").stdout
        self.assertIn("under a new identity", out)
        self.assertIn("It may write now", out)
        self.put(cp, "other", "name=from the copy")

        # No fork anywhere: merge both ways, everything converges.
        for src, dst in ((a, bk), (bk, a), (cp, a), (a, cp), (bk, cp), (cp, bk)):
            self.assertEqual(jrun("merge", src, dst)["forks"], [])
        self.assertEqual(self.digest(a), self.digest(bk))
        self.assertEqual(self.digest(a), self.digest(cp))
        run("diff", a, bk)
        self.assertEqual(jrun("-C", a, "forks")["count"], 0)

    def test_merge_reports_forks_and_diff_says_what_helps(self):
        a = self.replica("a")
        self.put(a, "item", "title=one")
        author = run("-C", a, "whoami").stdout.strip()
        c = self.path("c")
        shutil.copytree(a, c)
        # Forced live under the same identity while the original lives: the misuse that forks.
        self.assertIn("identity kept", run("restore", c, "--keep-identity").stdout)
        self.put(a, "item", "title=two")
        self.put(c, "item", "title=other two")
        self.put(c, "item", "title=other three")

        p = run("diff", a, c, expect=1)
        self.assertIn("forked at seq 2", p.stdout)
        self.assertIn("hearth restore", p.stdout)
        self.assertIn("hearth forks", p.stdout)
        self.assertNotIn("bring both up to date", p.stdout)
        self.assertEqual(jrun("diff", a, c, expect=1)["forked"], 1)

        p = run("merge", c, a, expect=1)
        self.assertIn("1 forked feed(s)", p.stdout)
        self.assertIn(author, p.stdout)
        self.assertIn("hearth restore", p.stdout)
        j = jrun("merge", c, a, expect=1)
        self.assertEqual([(f["author"], f["seq"]) for f in j["forks"]], [(author, 2)])
        self.assertNotEqual(j["forks"][0]["hash_a"], j["forks"][0]["hash_b"])
        self.assertRegex(j["forks"][0]["hash_a"], r"^[0-9a-f]{64}$")


class InspectTest(Base):
    def test_log_heads_inspect_backup(self):
        a = self.init("a")
        for i in range(3):
            self.put(a, "item", f"title=t{i}", "count+=1")
        self.put(a, "other", "name=o")
        me = run("-C", a, "whoami").stdout.strip()
        heads = jrun("-C", a, "heads")["heads"]
        self.assertEqual(heads, [{"author": me, "seq": 4, "hash": heads[0]["hash"]}])
        self.assertIn(me, run("-C", a, "heads").stdout)
        log = jrun("-C", a, "log")["deltas"]
        self.assertEqual([d["seq"] for d in log], [4, 3, 2, 1])
        self.assertEqual(log[0]["scope"], "test.b")
        self.assertEqual(jrun("-C", a, "log", "--limit", "2", "--reverse")["deltas"][1]["seq"], 2)
        ops = jrun("-C", a, "log", "--ops", "--author", me)["deltas"][1]["ops"]
        self.assertEqual(sorted(o["op"] for o in ops), ["counter", "set"])
        self.assertIn("set item/", run("-C", a, "log", "--ops").stdout)
        self.assertIn("SCOPE", run("-C", a, "log").stdout)
        run("-C", a, "log", "--author", "ab" * 32, expect=1)
        ins = jrun("-C", a, "inspect")
        self.assertEqual(ins["collections"]["item"]["records"], 3)
        self.assertEqual(ins["collections"]["other"]["records"], 1)
        self.assertEqual(ins["scopes"]["test.a"]["records"], 3)
        self.assertEqual((ins["deltas"], ins["pending"], ins["forks"], ins["format_version"]), (4, 0, 0, 2))
        self.assertGreater(ins["map_size"], 0)
        text = run("-C", a, "inspect").stdout
        for word in ("COLLECTION", "SCOPE", "FEED", "map"):
            self.assertIn(word, text)
        self.assertEqual(jrun("-C", a, "forks")["count"], 0)
        self.assertIn("no forks", run("-C", a, "forks").stdout)
        self.assertIn("nothing pending", run("-C", a, "pending").stdout)
        self.assertRegex(run("-C", a, "digest").stdout.strip(), r"^[0-9a-f]{64}$")
        self.assertIn("ok", run("-C", a, "verify").stdout)
        self.assertEqual(run("-C", a, "-q", "verify").stdout, "")
        # backup, compacted and not
        for name, extra in (("bk1", []), ("bk2", ["--no-compact"])):
            dest = self.path(name)
            run("-C", a, "backup", dest, *extra)
            self.assertEqual(self.digest(dest), self.digest(a))
            run("-C", dest, "verify")
        run("-C", a, "backup", self.path("bk1"), expect=3)

    def test_verify_detects_damage(self):
        a = self.init("a")
        for i in range(20):
            self.put(a, "item", f"title={'x' * 50}{i}")
        # Flip bytes in the middle of data.mdb; verify must not say ok.
        path = os.path.join(a, "data.mdb")
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            for m in re.finditer(b"x" * 50, bytes(data)):
                data[m.start() + 10] = ord("y")
            f.seek(0)
            f.write(data)
        p = run("-C", a, "verify", expect=None)
        self.assertIn(p.returncode, (1, 3), p.stdout + p.stderr)
        self.assertNotIn("ok:", p.stdout)


# ---- hostile inputs: TOML, files that are not files, odd values (issue #12) ----
class HostileInputTest(Base):
    def deep_toml(self):
        path = self.path("deep.toml")
        with open(path, "w") as f:
            f.write("z = " + "[" * 100000 + "]" * 100000 + "\n")
        return path

    def test_deep_toml_schema_refused_not_crash(self):
        # 100,000 nested arrays overflowed toml11's recursion (SIGSEGV).
        deep = self.deep_toml()
        p = run("init", self.path("r"), "--unencrypted-identity", "--schema", deep, expect=2)
        self.assertIn("nested deeper than 64 levels", p.stderr)
        a = self.init("a")
        p = run("-C", a, "schema", "set", deep, expect=2)
        self.assertIn("nested deeper than 64 levels", p.stderr)
        root = self.path("root")
        run("init", root, "--unencrypted-identity", "--is-root", "--schema", SCHEMA)
        p = run("-C", root, "policy", "sign", deep, expect=2)
        self.assertIn("nested deeper than 64 levels", p.stderr)

    def test_fifo_bundle_refused_not_hang(self):
        a = self.init("a")
        fifo = self.path("b.fifo")
        os.mkfifo(fifo)
        for args in (["-C", a, "import", fifo], ["bundle-info", fifo]):
            p = subprocess.run([HEARTH, *args], capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("not a regular file", p.stderr)
        p = subprocess.run([HEARTH, "bundle-info", a], capture_output=True, text=True, timeout=20)
        self.assertEqual(p.returncode, 2, p.stderr)
        # Other files read whole: a keyring, a heads file.
        for args in (["-C", a, "keys", "import", fifo], ["-C", a, "export", self.path("x.bundle"), "--since-heads", fifo]):
            p = subprocess.run([HEARTH, *args], capture_output=True, text=True, timeout=20)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("not a regular file", p.stderr)

    def test_json_number_out_of_range_is_usage_error(self):
        a = self.init("a")
        for bad in ('{"score":1e999}', '{"price":-1e400}'):
            p = run("-C", a, "put", "item", "--set-json", bad, expect=2)
            self.assertIn("--set-json", p.stderr)
        heads = self.path("heads.json")
        with open(heads, "w") as f:
            f.write('[{"author": "00", "seq": 1e999}]')
        run("-C", a, "export", self.path("x.bundle"), "--since-heads", heads, expect=2)

    def test_status_backwards_says_nothing_changed(self):
        a = self.init("a")
        rid = self.put(a, "item", "stage=done")["id"]
        before = run("-C", a, "heads", "--json").stdout
        p = run("-C", a, "put", "item", "stage=open", "--id", rid)
        self.assertNotIn("committed", p.stderr)
        self.assertIn("nothing changed", p.stderr)
        self.assertIn("item.stage is 'done'", p.stderr)
        self.assertIn("statuses only move forward", p.stderr)
        self.assertEqual(p.stdout.strip(), rid)
        j = jrun("-C", a, "put", "item", "--id", rid, "--set-json", '{"stage": "new"}')
        self.assertFalse(j["changed"])
        self.assertEqual(j["unchanged"][0]["field"], "stage")
        self.assertEqual(j["unchanged"][0]["current"], "done")
        self.assertEqual(run("-C", a, "heads", "--json").stdout, before)  # no delta written
        # Mixed with a real change: that one is committed, the status reported.
        j = jrun("-C", a, "put", "item", "stage=new", "title=x", "--id", rid)
        self.assertTrue(j["changed"])
        self.assertEqual(j["unchanged"][0]["requested"], "new")
        self.assertEqual(jrun("-C", a, "get", "item", rid)["fields"]["stage"]["value"], "done")
        self.assertTrue(jrun("-C", a, "put", "item", "stage=done", "--id", rid)["changed"] is False)
# ---- end hostile inputs ----


def main():
    global HEARTH, SCHEMA
    ap = argparse.ArgumentParser()
    ap.add_argument("--hearth", required=True)
    ap.add_argument("--schema", required=True)
    args, rest = ap.parse_known_args()
    HEARTH, SCHEMA = os.path.abspath(args.hearth), os.path.abspath(args.schema)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)


if __name__ == "__main__":
    main()
