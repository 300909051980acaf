// Package redis is the shared, production state.Store: every scorer replica
// keeps its state in one Redis deployment (standalone, Sentinel or Cluster),
// so replicas share nothing else and any of them can score any event.
//
// # Choosing a deployment
//
// One setting selects the deployment; ParseOptions reads it:
//
//	localhost:6379                      standalone (port defaults to 6379)
//	redis://user:pass@host:6379/2       standalone, ACL user, database 2
//	rediss://host:6380                  standalone over TLS
//	redis://h1:7000,h2:7000,h3:7000     Cluster (several hosts mean Cluster)
//	redis://h1:7000?cluster=true        Cluster from a single seed node
//	redis://:pass@s1,s2,s3?master_name=mymaster
//	                                    Sentinel (ports default to 26379);
//	                                    the password is the master's
//	h1:7000,h2:7000                     Cluster, as a bare address list
//
// Query parameters: cluster (true/false), master_name, sentinel_username,
// sentinel_password, db (like the path), prefix (key prefix, default
// "iamsentry:"), tls_ca_file, tls_cert_file and tls_key_file (PEM files;
// the pair enables mutual TLS), tls_server_name, tls_insecure_skip_verify
// (tests only), dial_timeout, read_timeout, write_timeout (Go durations)
// pool_size, allow_eviction (see Memory) and layout. Unknown parameters are errors,
// so a typo is not silently ignored. Options.String renders the setting back with passwords hidden.
//
// Query parameter layout selects how state is laid out (see Layouts):
// record (the default) or keys.
//
// # Keys
//
// Every key carries the hash tag <prefix>{<tenant>:<identity>}. The braces
// are a Cluster hash tag: every key of one identity lives on one slot, so a
// script may touch several keys of it; each script declares its keys.
// Tenant and identity are percent-escaped so that no identity can close the
// tag early and land on another identity's slot.
//
// # Layouts
//
// The record layout (layout=record, the default) keeps all state of one
// identity as one string, <tag>:rec: a compact binary record
// (state/internal/record) of its entries, each with its own expiry, after
// an 8-byte version. Redis only stores bytes. Exec groups a batch's
// operations by identity, takes each identity's record from a
// replica-local cache (the last version this replica read or wrote, up to
// 65,536 records or 64 MiB) or, on a miss, takes it to be absent (most
// misses are records nobody wrote yet: an hour's claims, a new session),
// applies the operations in Go with the embedded store's
// semantics, and sends one EVALSHA of a small script that, per identity,
// compares the stored version (GETRANGE 0 7) and SETs the new bytes with
// PXAT, the latest entry's expiry; an identity whose operations changed
// nothing is only compared. On a version mismatch (another replica wrote
// since) the script returns the current bytes and the identity's
// operations are applied to them again, after a short random wait, up to
// 32 times (then the batch fails with state.ErrUnavailable); no answer is handed
// out before its record was stored or found current. Batches of one
// replica on one identity are serialised locally (1,024 lock stripes), so
// mismatches come only from other replicas. A miss whose record exists
// after all is refused like a mismatch, with its bytes, and applied again
// at once, without the wait. A batch costs one round trip, whether its
// records were cached or did not exist, and two when a record another
// replica wrote was missing from the cache.
//
// What a batch costs Redis (BenchmarkRoundTripsRealistic: three days of
// the realistic corpus, 22,329 events, through the engine; the counts are
// deterministic): one-event batches, the open loop's at 5k events/s, run
// 1.05 round trips and 6.90 commands per event, of which one EVALSHA per
// Exec and, inside it, 2.5 records per event (an event touches its access
// key's, its principal's, its session's, ... records) each checked
// (GETRANGE) and written (SET; a log-format record SETRANGE and APPEND;
// a side record APPEND); 4-event batches 1.09 round trips and 5.19
// commands per event; 512-event batches 2.5 round trips (nearly all of
// them hold a finding, and the engine then executes a second batch; some
// read side records first) and 1.28 commands per event.
//
// Large state stays cheap to change: an entry whose encoding passes 1 KiB
// moves to a side record of its own (<tag>:rec:<name digest>v<version>),
// and a record whose encoding passes 32 KiB is split into pages
// (<tag>:rec:p<bits>.<prefix>v<version>) by the low bits of its entries'
// name digests, a page splitting in two past 16 KiB; the record then holds
// the page directory (each page's version and expiry). Each version of a
// side record is a key of its own, SET in the pipeline just before the
// script call that stores the record naming it, so one version check
// covers them and their bytes never pass through Lua; the call deletes
// the versions replaced (or, refused, the new ones). An automation
// principal with tens of thousands of time-named windows (a CSPM scanner)
// is a few hundred pages, of which a batch changes a few. A page is a log
// too (format 7; state/internal/record's pagelog.go): a batch APPENDs to
// each page it changed the entries it wrote there, from the script after
// the record's version check, as to a large entry's side record; the page
// is rewritten under a new version once appended bytes pass half of its
// live ones, or when it splits.
//
// A large entry's side record is a log of its own (format 6; see
// state/internal/record's sidelog.go): a write that changes an entry
// already there APPENDs the operations it applied (a member added or seen,
// a cut-off) from the script, after the record's version check and a check
// that the side record still exists, and moves its PEXPIREAT; its key and
// version stay, and it is rewritten whole under a new version once the
// appended bytes pass half of its last whole write. So a batch adding one
// person to an organisation-wide novelty set or window of thousands (the
// hottest identity of an organisation with one egress) sends tens of
// bytes, not the set. Format 6 is read only by versions that write it, as
// format 5 below.
//
// A record past 1 KiB is kept in a log format (record.EncodeWrite): a
// write appends the entries it changed (the script's SETRANGE of the
// version, then APPEND, and PEXPIREAT only when the latest expiry grew)
// instead of rewriting the record, and rewrites it whole once superseded
// copies pass half of its live bytes; a later copy of an entry replaces
// an earlier one. One script call writes all records of a batch on
// standalone and Sentinel (up to 128 a call), one per identity on
// Cluster. Format 5 is read only by versions that write it: every replica
// must run one before any writes it (record.LogThreshold's package notes
// the rule).
//
// Entries are found by an 8-byte digest of their name; novelty members
// and throttle owners are 8-byte digests and bucket members 6-byte ones
// (only compared or counted); window members are kept whole, since reads
// list them. A write whose only effect would be to push a TTL of an hour
// or more out by less than a sixteenth of it is skipped, as on the keys
// layout: an entry expires no sooner than 15/16 of its TTL after its last
// write. The engine claims an event beside its access key's state, or
// for an event without one beside its account's other such claims of that
// hour (engine.dedupeKey, asked through state.IdentityGrouper), so a claim
// is about 17 bytes in a record the batch writes anyway.
//
// The keys layout (layout=keys) keeps a Redis key per state key,
// <tag>:<name>, worked on by a Lua group script per identity; the two
// layouts do not read each other's keys, so switching starts from empty
// state. Its encoding: values and claims are strings (SET NX GET PX: one
// command); a throttle holds an 8-byte digest of its owner. Marks are
// decimal nanoseconds, compared in a script. Windows and novelty sets are
// sorted sets of member → latest event time in integer microseconds. Buckets
// are one sorted set per key, scored by bucket index, whose entries are
// 6-byte digests of (bucket index, member). An active identity (a 20-member
// window, a 10-member novelty set, two marks, 24 hourly buckets of two
// events, a throttle) costs about 1.9 KiB (TestMemoryPerIdentity). Exec
// sends a whole batch as one pipeline, and the operations of one hash tag as
// one call of the group script, in queue order; each key's TTL is set once,
// at the end, and a small sorted set or a mark is read once and written
// back once (views, see groupScript).
//
// On either layout, when the server has lost its script cache (restart,
// failover, SCRIPT FLUSH) the calls that met NOSCRIPT did not run; they are
// re-run after SCRIPT LOAD (see Exec).
//
// # Outages
//
// Network errors, timeouts and the replies of a server that cannot serve
// (LOADING, CLUSTERDOWN, MASTERDOWN, TRYAGAIN, READONLY, OOM) fail the batch
// with an error wrapping state.ErrUnavailable. go-redis's own retries are off: a
// retried pipeline could run an operation twice; the caller retries the
// batch instead. The Store reconnects by itself once Redis is back.
//
// # Memory
//
// The store needs maxmemory-policy noeviction: any other policy drops keys
// under memory pressure, and with them dedupe claims (a redelivery alerts
// again) and windows (a burst goes unseen). CheckMemoryPolicy refuses an
// evicting server unless Options.AllowEviction is set, and Ping reports the
// store unavailable until the check passes. A full noeviction server refuses
// writes with OOM: Exec fails with ErrOutOfMemory (wrapping
// state.ErrUnavailable), and Ping does too while the server is full or has
// refused a batch since the last Ping, so readiness follows memory as it
// follows reachability.
package redis
