"""pytest tests of the Python package (python/hearth) over the C API.

Run by CTest (python_hearth) with PYTHONPATH and HEARTH_LIBRARY set."""
import time

import pytest

import hearth

SCHEMA = """format = 1
[collections.worker]
scope = "hr.workers"
[collections.worker.fields]
name = { type = "lww", value = "string", index = true }
age = { type = "lww", value = "int", index = true }
score = { type = "lww", value = "double" }
active = { type = "lww", value = "bool" }
photo = { type = "lww", value = "bytes" }
born = { type = "lww", value = "timestamp" }
employer = { type = "ref", collection = "worker" }
work_area = { type = "mv", value = "string" }
skills = { type = "set", value = "string" }
visits = { type = "counter" }
stage = { type = "status", order = ["new", "verified", "closed"] }
notes = { type = "log", value = "string" }
"""


def open_replica(path):
    return hearth.Replica.open(path, schema_toml=SCHEMA, unencrypted_identity=True, durability="nosync")


@pytest.fixture
def pair(tmp_path):
    a = open_replica(tmp_path / "a")
    b = open_replica(tmp_path / "b")
    a.create_scope_key("hr.workers")
    b.import_keyring(a.export_keyring())
    yield a, b
    a.close()
    b.close()


def test_open_and_every_field_type(tmp_path):
    with open_replica(tmp_path / "r") as r:
        r.create_scope_key("hr.workers")
        wid, boss = hearth.new_id(), hearth.new_id()
        with r.batch() as b:
            b.set("worker", wid, "name", "王小明")
            b.set("worker", wid, "age", 34)
            b.set("worker", wid, "score", 2.5)
            b.set("worker", wid, "active", True)
            b.set("worker", wid, "photo", b"\x00\x01\xff")
            b.set("worker", wid, "born", hearth.Timestamp(631152000000))
            b.set("worker", wid, "employer", hearth.Ref(boss))
            b.set("worker", wid, "work_area", "city")
            b.add("worker", wid, "skills", "welding").add("worker", wid, "skills", "cooking")
            b.increment("worker", wid, "visits", 3)
            b.advance("worker", wid, "stage", "verified")
            b.append("worker", wid, "notes", "registered")
        assert b.info["op_count"] == 13
        with r.batch() as b:
            b.remove("worker", wid, "skills", "cooking")
            b.increment("worker", wid, "visits", -1)
        f = r.get("worker", wid)["fields"]
        assert f["name"]["value"] == "王小明"
        assert f["age"]["value"] == 34
        assert f["score"]["value"] == 2.5
        assert f["active"]["value"] is True
        assert f["photo"]["value"] == {"$bytes": "0001ff"}
        assert f["born"]["value"] == {"$ts": 631152000000}
        assert f["employer"]["value"] == {"$ref": boss}
        assert f["work_area"]["values"] == ["city"]
        assert f["skills"]["values"] == ["welding"]
        assert f["visits"]["value"] == 2
        assert f["stage"]["value"] == "verified"
        assert [e["value"] for e in f["notes"]["entries"]] == ["registered"]
        assert [x["id"] for x in r.find("worker", "age", lower=30)] == [wid]
        assert [x["id"] for x in r.scan("worker")] == [wid]


def test_max_resident_map_bytes(tmp_path):
    # A replica that drops its map pages past 1 MiB resident still reads
    # back everything it wrote; a negative or non-int bound is refused.
    with hearth.Replica.open(tmp_path / "t", schema_toml=SCHEMA, unencrypted_identity=True,
                             durability="nosync", max_resident_map_bytes=1 << 20) as r:
        r.create_scope_key("hr.workers")
        ids = [hearth.new_id() for _ in range(300)]
        for i, wid in enumerate(ids):
            with r.batch() as b:
                b.set("worker", wid, "name", "worker %d" % i)
        assert [r.get("worker", wid)["fields"]["name"]["value"] for wid in ids[::50]] == \
            ["worker %d" % i for i in range(0, 300, 50)]
    for bad in (-1, 2**64, "1"):
        with pytest.raises(hearth.InvalidArgument):
            hearth.Replica.open(tmp_path / "u", schema_toml=SCHEMA, max_resident_map_bytes=bad)


def test_errors_carry_code_and_message(tmp_path):
    with open_replica(tmp_path / "r") as r:
        r.create_scope_key("hr.workers")
        with pytest.raises(hearth.NotFound) as e:
            r.get("worker", hearth.new_id())
        assert e.value.code == 1
        with pytest.raises(hearth.InvalidArgument) as e:
            with r.batch() as b:
                b.set("worker", hearth.new_id(), "name", 5)  # wrong type: refused at commit
        assert "name" in e.value.message
        with pytest.raises(hearth.InvalidArgument):
            r.get("worker", "not-an-id")
        with pytest.raises(hearth.InvalidArgument):
            r.get(b"\xff\xfe", hearth.new_id())  # invalid UTF-8 reaches the library, refused
        with pytest.raises(hearth.InvalidArgument):
            r.get("worker\0x", hearth.new_id())  # NUL inside a name: refused, not truncated
        with pytest.raises(hearth.InvalidArgument):
            r.get("worker", "\ud800" * 32)  # a lone surrogate is not UTF-8
        with pytest.raises(TypeError):
            with r.batch() as b:
                b.set("worker", hearth.new_id(), "name", object())
        with pytest.raises(hearth.AlreadyExists):
            r.create_scope_key("hr.workers")
        # An exception inside the block: nothing committed.
        wid = hearth.new_id()
        with pytest.raises(RuntimeError):
            with r.batch() as b:
                b.set("worker", wid, "name", "x")
                raise RuntimeError("abandon")
        with pytest.raises(hearth.NotFound):
            r.get("worker", wid)
    with pytest.raises(hearth.InvalidArgument):
        hearth.Replica.open(tmp_path / "bad", schema_toml="format = 1\n[collections.x]\n",
                            unencrypted_identity=True)


def test_bundle_exchange_heads_and_conflict(pair, tmp_path):
    a, b = pair
    wid = hearth.new_id()
    with a.batch() as w:
        w.set("worker", wid, "work_area", "city")
    heads_file = tmp_path / "b.heads"
    hearth.save_heads(b.heads(), str(heads_file))
    report = a.export_bundle(tmp_path / "a.bundle", since=hearth.load_heads(str(heads_file)))
    assert report["entries"] == 1
    assert b.import_bundle(tmp_path / "a.bundle")["applied"] == 1
    assert a.digest() == b.digest()

    # Concurrent writes of the mv field: a conflict with both values.
    with a.batch() as w:
        w.set("worker", wid, "work_area", "city")
    with b.batch() as w:
        w.set("worker", wid, "work_area", "out_of_province")
    ha, hb = a.heads(), b.heads()
    for d in b.deltas_since(ha):
        assert a.apply(d)["outcome"] == "applied"
    for d in a.deltas_since(hb):
        assert b.apply(d)["outcome"] == "applied"
    fa = a.get("worker", wid)["fields"]["work_area"]
    assert fa["conflict"] is True
    assert sorted(fa["values"]) == ["city", "out_of_province"]
    assert a.digest() == b.digest()
    with pytest.raises(hearth.Error):
        a.apply(b"\x01\x02garbage")


def test_sync_node_pair(pair):
    a, b = pair
    wid = hearth.new_id()
    with a.batch() as w:
        w.set("worker", wid, "name", "Li Na")
    na = a.node(tick_ms=20, heads_poll_ms=50).listen("tcp://127.0.0.1:*")
    nb = b.node(tick_ms=20, heads_poll_ms=50).connect(na.endpoints[0], a.author)
    with na, nb:
        na.start()
        nb.start()
        assert na.running
        deadline = time.monotonic() + 10
        got = None
        while got is None and time.monotonic() < deadline:
            try:
                got = b.get("worker", wid)
            except hearth.NotFound:
                time.sleep(0.02)
        assert got is not None and got["fields"]["name"]["value"] == "Li Na"
        # A write on b reaches a through the running nodes.
        with b.batch() as w:
            w.increment("worker", wid, "visits", 2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if a.get("worker", wid)["fields"].get("visits", {}).get("value") == 2:
                break
            time.sleep(0.02)
        assert a.get("worker", wid)["fields"]["visits"]["value"] == 2
        assert nb.stats()["peers"][0]["deltas_applied"] >= 1
    assert not na.running


def test_change_feed_history_and_conflict_authors(pair):
    a, b = pair
    wid = hearth.new_id()
    start = b.last_change
    with a.batch() as w:
        w.set("worker", wid, "name", "Li Na").set("worker", wid, "work_area", "city")
    with b.batch() as w:
        w.set("worker", wid, "work_area", "out_of_province")
    for d in a.deltas_since(b.heads()):
        b.apply(d)
    changes = b.changes(start)
    assert [c["remote"] for c in changes] == [False, True]
    assert changes[-1]["author"] == a.author
    assert "name" in changes[-1]["fields"]
    assert b.changes(start, limit=1) == changes[:1]
    # follow() yields what is there, then new changes, and ends after `timeout` idle seconds.
    followed = [c["number"] for c in b.follow(start, timeout=0.2)]
    assert followed == [c["number"] for c in changes]
    # Conflicts: each value with its author.
    conflicts = b.conflicts("worker")
    assert len(conflicts) == 1 and conflicts[0]["field"] == "work_area"
    by_value = {v["value"]: v["author"] for v in conflicts[0]["values"]}
    assert by_value == {"city": a.author, "out_of_province": b.author}
    assert b.conflicts() == conflicts
    src = b.get("worker", wid)["fields"]["work_area"]["sources"]
    assert {s["author"] for s in src} == {a.author, b.author}
    # History, oldest first.
    hist = b.history("worker", wid)
    assert {(h["field"], h["author"]) for h in hist} >= {("name", a.author), ("work_area", b.author)}
    assert [h["hlc"] for h in hist] == sorted(h["hlc"] for h in hist)
    assert b.history("worker", hearth.new_id()) == []


def test_watcher_wakes_on_a_commit(tmp_path):
    import threading
    with open_replica(tmp_path / "r") as r:
        r.create_scope_key("hr.workers")
        last = r.last_change
        with r.watch() as w:
            assert w.wait(last, 0.05) is False  # nothing yet: times out
            t = threading.Timer(0.1, lambda: r.commit(hearth.Batch().set("worker", hearth.new_id(), "age", 3)))
            t.start()
            assert w.wait(last, 5) is True
            t.join()
