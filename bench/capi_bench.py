"""Python part of hearth_capi_bench (bench/capi_bench.cpp): 1-op commits and
a full scan through python/hearth on the replica the C++ part filled.
    capi_bench.py DIR COMMITS RECORDS CPP_COMMIT_US CPP_SCAN_S"""
import sys
import time

import hearth


def main(argv):
    path, commits, records = argv[1], int(argv[2]), int(argv[3])
    cpp_commit_us, cpp_scan_s = float(argv[4]), float(argv[5])
    with hearth.Replica.open(path, durability="nosync") as r:
        wid = hearth.new_id()
        t0 = time.perf_counter()
        for i in range(commits):
            with r.batch() as b:
                b.set("worker", wid, "name", f"commit {i}")
        commit_us = (time.perf_counter() - t0) * 1e6 / commits
        t0 = time.perf_counter()
        n = sum(1 for _ in r.scan("worker"))
        scan_s = time.perf_counter() - t0
    if n != records + 1:
        print(f"capi_bench.py: scan saw {n} records, expected {records + 1}", file=sys.stderr)
        return 1
    print(f"{'Python':<8} {commit_us:16.1f} {commit_us / cpp_commit_us:14.2f} {scan_s:14.3f} "
          f"{scan_s / cpp_scan_s:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
