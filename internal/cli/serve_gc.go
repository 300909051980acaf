package cli

// serveRedisGCPercent is serve's garbage-collection target (GOGC) when its
// state is in Redis.
//
// A replica on Redis keeps little alive (caches of records, parsed-field
// memos, the batcher's pools) and allocates a request's worth of
// short-lived garbage per event: 6.7 KB an event at 5k events/s of
// one-event requests. At Go's default of 100 the collector ran once for
// every live heap's worth allocated, and each cycle's marking took a share
// of the two cores' time that a batch then waited for. Measured with loadgen's open
// loop on the realistic month at 5k events/s on Redis (client, server and
// redis-server on the same 2 cores, 4 interleaved pairs): p99 5.13 ms at
// 100 against 3.86 ms at 400, lower in 4 of 4 pairs, at the same server CPU
// per event, and 11 pairs in all lower or equal in 10 (docs/performance.md,
// "The collector's target on Redis").
//
// On the embedded store the heap is the state (up to --state-budget), and
// 400 would let it grow to five times that before a collection, so there
// serve keeps Go's default.
const serveRedisGCPercent = 400

const serveGCPercentUsage = "garbage-collection target percentage (as GOGC): higher trades memory for CPU and latency; -1 turns the collector off; default: 400 with state in Redis (the heap is mostly per-request garbage), Go's 100 on the embedded store (the heap is the state); $GOGC, when set, replaces the default"

// setServeGC applies serve's GC target: --gc-percent when given, else GOGC
// when set in the environment, else serveRedisGCPercent on Redis and Go's
// default on the embedded store. It returns the function that restores the
// previous setting.
func setServeGC(f *serveFlags, onRedis bool) (restore func()) {
	if !f.gcPercentGiven && !onRedis {
		return func() {}
	}
	percent := serveRedisGCPercent
	if f.gcPercentGiven {
		percent = f.gcPercent
	}
	return setGCPercent(f.gcPercentGiven, percent)
}
