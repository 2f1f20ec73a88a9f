#!/usr/bin/env python3
"""township_desk.py: a township office's desk app in Python (python/hearth).

The county labour bureau and the township office each run a replica; their
sync nodes talk over ZeroMQ on 127.0.0.1. The desk registers a worker, then
follows its change feed and prints every change that reaches it from the
bureau by sync.

    township_desk.py DIR        (replicas in DIR/bureau and DIR/township)
"""
import os
import shutil
import sys
import time

import hearth

SCHEMA = """format = 1
[collections.worker]
scope = "hr.workers"
[collections.worker.fields]
name = { type = "lww", value = "string", index = true }
township = { type = "lww", value = "string", index = true }
work_area = { type = "mv", value = "string" }
visits = { type = "counter" }
"""


def main(argv):
    if len(argv) != 2:
        print("usage: township_desk.py DIR", file=sys.stderr)
        return 2
    base = argv[1]
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    opts = dict(schema_toml=SCHEMA, unencrypted_identity=True)  # example only: use a passphrase
    with hearth.Replica.open(os.path.join(base, "bureau"), **opts) as bureau, \
            hearth.Replica.open(os.path.join(base, "township"), **opts) as desk:
        bureau.create_scope_key("hr.workers")
        desk.import_keyring(bureau.export_keyring(["hr.workers"]))

        # The bureau registered a worker before the desk came online.
        from_bureau = hearth.new_id()
        with bureau.batch() as b:
            b.set("worker", from_bureau, "name", "李娜").set("worker", from_bureau, "township", "城厢镇")
            b.set("worker", from_bureau, "work_area", "city")

        # The desk registers one of its own.
        mine = hearth.new_id()
        with desk.batch() as b:
            b.set("worker", mine, "name", "张伟").set("worker", mine, "township", "城厢镇")
            b.increment("worker", mine, "visits", 1)
        print(f"desk registered worker {mine}")
        start = desk.last_change  # changes above this one are news to the desk

        with bureau.node(tick_ms=20, heads_poll_ms=50) as bn, desk.node(tick_ms=20, heads_poll_ms=50) as dn:
            bn.listen("tcp://127.0.0.1:*")
            dn.connect(bn.endpoints[0], bureau.author)
            bn.start()
            dn.start()
            # Follow the desk's change feed: print every change that came
            # from another replica, until the bureau's worker arrived.
            deadline = time.monotonic() + 10
            seen = set()
            for change in desk.follow(start, timeout=10):
                if change["remote"]:
                    rec = desk.get(change["collection"], change["id"])
                    f = rec["fields"]
                    print(f"change {change['number']} from {change['author'][:16]}: {change['collection']} "
                          f"{change['id']} fields {change['fields']} -> {f['name']['value']} "
                          f"({f['township']['value']}), work area {f['work_area']['values']}")
                    seen.add(change["id"])
                if from_bureau in seen or time.monotonic() > deadline:
                    break
            bureau_has_mine = False
            while time.monotonic() < deadline and not bureau_has_mine:
                try:
                    bureau.get("worker", mine)
                    bureau_has_mine = True
                except hearth.NotFound:
                    time.sleep(0.02)
            print(f"bureau holds the desk's worker: {bureau_has_mine}")
            if from_bureau not in seen or not bureau_has_mine:
                print("township_desk.py: sync did not complete in 10 s", file=sys.stderr)
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
