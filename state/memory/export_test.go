package memory

import "github.com/iamsentry/iamsentry/state"

// ShardOf returns the index of the shard holding k's identity, for tests
// outside the package that count shard locks.
func ShardOf(k state.Key) int { return int(hashKey(k) & (shardCount - 1)) }
