#!/usr/bin/env python3
"""Where each verdict's time went inside serve, from the dump that
instrument.patch writes (IAMSENTRY_TAILDEBUG=FILE), one line per request:

  recv taken enq took run done got sent batch_jobs batch_events exec

(nanoseconds since the server started; exec is the time inside the state
store's Exec calls of the request's batch). Prints the phases of the
slowest 1 % of requests, of all, and of p50-p90; the batches by size; and
when the slowest 1 % arrived (100 ms buckets). With `--timeline A B`
(seconds) it prints 10 ms buckets between A and B.

Usage: phases.py FILE [--timeline A B]
"""
import collections
import statistics as st
import sys

PHASES = [
    ("stream wait (stream's previous job)", lambda r: max(0, r[1] - r[0])),
    ("enqueue (wait for a worker)", lambda r: r[2] - r[1]),
    ("worker pick-up", lambda r: max(0, r[3] - r[2])),
    ("gather / busy linger", lambda r: r[4] - r[3]),
    ("engine CPU (parse, detect, span)", lambda r: r[5] - r[4] - r[10]),
    ("state Exec (lock, Redis RTT, apply/encode)", lambda r: r[10]),
    ("result wake-up", lambda r: r[6] - r[5]),
    ("gRPC Send", lambda r: r[7] - r[6]),
]


def total(r):
    return r[7] - r[0]


def load(path):
    rows = [list(map(int, l.split())) for l in open(path)]
    return [r for r in rows if r[0] > 0]


def summary(rows):
    t0 = min(r[0] for r in rows)
    rows = sorted((r for r in rows if r[0] - t0 > 1e9), key=total)  # skip the first second
    n = len(rows)
    pct = lambda p: total(rows[min(n - 1, int(p * n))]) / 1e6
    print(f"requests {n}: server time p50 {pct(.5):.2f} ms, p99 {pct(.99):.2f} ms, "
          f"p99.9 {pct(.999):.2f} ms, max {total(rows[-1]) / 1e6:.2f} ms")
    for label, sel in [("slowest 1 %", rows[int(.99 * n):]), ("all", rows), ("p50-p90", rows[n // 2:int(.9 * n)])]:
        k = len(sel)
        mean_total = sum(map(total, sel)) / k / 1e6
        print(f"-- {label}: mean {mean_total:.2f} ms; batch of {sum(r[9] for r in sel) / k:.1f} events, "
              f"{sum(r[8] for r in sel) / k:.1f} jobs")
        for name, f in PHASES:
            v = sum(map(f, sel)) / k / 1e6
            print(f"   {name:44s} {v:7.3f} ms {100 * v / mean_total:5.1f} %")
    batches = {}
    for r in rows:
        batches[(r[4], r[5])] = (r[9], r[10], r[5] - r[4])
    by = collections.defaultdict(list)
    for ev, ex, d in batches.values():
        by[next(c for c in (1, 2, 4, 10, 30, 100, 10**9) if ev <= c)].append((ex, d))
    for c in sorted(by):
        v = by[c]
        ex = sorted(x[0] for x in v)
        print(f"batches of <= {c:>10d} events: {len(v):6d}, Exec p50 {st.median(ex) / 1e6:.2f} ms "
              f"p99 {ex[int(.99 * len(ex))] / 1e6:.2f} ms, engine p50 {st.median(x[1] for x in v) / 1e6:.2f} ms")
    slow = rows[int(.99 * n):]
    buckets = collections.Counter(r[0] // 100_000_000 for r in slow)
    print("slowest 1 % by arrival (100 ms bucket since server start: count):",
          " ".join(f"{k}:{v}" for k, v in sorted(buckets.items())))


def timeline(rows, a, b):
    bk = collections.defaultdict(list)
    for r in rows:
        if a * 1e9 <= r[0] < b * 1e9:
            bk[r[0] // 10_000_000].append(r)
    print("t ms    reqs  total stream linger engCPU  Exec  wake  largest batch")
    for k in sorted(bk):
        v = bk[k]
        m = lambda f: sum(map(f, v)) / len(v) / 1e6
        print(f"{k * 10:6d} {len(v):5d} {m(total):6.2f} {m(PHASES[0][1]):6.2f} {m(PHASES[3][1]):6.2f} "
              f"{m(PHASES[4][1]):6.2f} {m(PHASES[5][1]):5.2f} {m(PHASES[6][1]):5.2f} {max(r[9] for r in v):5d}")


if __name__ == "__main__":
    rows = load(sys.argv[1])
    if len(sys.argv) == 5 and sys.argv[2] == "--timeline":
        timeline(rows, float(sys.argv[3]), float(sys.argv[4]))
    else:
        summary(rows)
