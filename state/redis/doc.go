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
// pool_size and allow_eviction (see Memory). Unknown parameters are errors,
// so a typo is not silently ignored. Options.String renders the setting back with passwords hidden.
//
// # Keys
//
// A state.Key becomes <prefix>{<tenant>:<identity>}:<name>. The braces are a
// Cluster hash tag: every key of one identity lives on one slot, so a script
// may touch several keys of it (a novelty set and, beside it, the hash of
// who introduced its members); each script declares its keys. Tenant and identity are percent-escaped so that no
// identity can close the tag early and land on another identity's slot.
//
// # Encoding
//
// Values and claims are strings (SET NX GET PX: one command); a throttle
// holds an 8-byte digest of its owner, which is only compared. Marks are
// decimal nanoseconds (stored as integers), compared in a script. Windows
// and novelty sets are sorted sets of member → latest event time. Buckets
// are one sorted set per key, scored by bucket index, whose entries are
// 6-byte digests of (bucket index, member): members are only counted, so a
// day of hourly buckets stays small; a history read tallies the entries'
// scores in the script. Small sorted sets are listpacks on the server. An active identity
// (a 20-member window, a 10-member novelty set, two marks, 24 hourly buckets
// of two events, a throttle) costs about 1.9 KiB (TestMemoryPerIdentity).
//
// Event times in windows and novelty sets are kept as integer microseconds:
// exact as sorted-set scores (doubles) until the year 2255, where
// nanoseconds would not be. CloudTrail times have whole seconds, so nothing
// is lost in practice; only times that differ below a microsecond compare
// equal. Marks and bucket boundaries keep nanoseconds.
//
// # Round trips and scripts
//
// Exec sends a whole batch as one pipeline, and the operations of one hash
// tag (one identity: one Cluster slot) as one call of one Lua script, the
// group script, in queue order: a batch costs one command per identity it
// touches, plus one plain SET per event's dedupe claim (each event id is
// its own tag). Inside the group, each key's TTL is set once, at the end,
// and a small sorted set or a mark is read once and written back once,
// however many operations of the group touch it: the script answers them
// from what it read (views, see groupScript). When
// the server has lost its script cache (restart, failover, SCRIPT FLUSH)
// the groups that met NOSCRIPT did not run; they are re-run after SCRIPT
// LOAD (see Exec).
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
