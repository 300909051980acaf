package redis

import (
	"crypto/sha1"
	"encoding/hex"
)

// A script is one operation that needs more than one Redis command to stay
// atomic. It declares its keys (KEYS, in order) as suffixes of the
// operation's key: ownKey for that key itself, others for keys beside it.
// A suffix follows the hash tag, so every key of a script sits on the
// operation key's Cluster slot, and the script runs on Cluster.
//
// Times arrive as integer microseconds (see the package doc): they are exact
// as Lua numbers and as sorted-set scores up to the year 2255. Bucket
// indexes arrive formatted by Go; history indexes are formatted with %d in
// Lua, never with tostring, whose %.14g would round large ones.
type script struct {
	name string
	keys []string // KEYS as suffixes of the operation's key
	src  string
	sha  string
}

// ownKey is the operation's key itself among a script's keys.
const ownKey = ""

// introSuffix names the hash beside a novelty set that remembers which
// owner introduced each recent member.
const introSuffix = ":intro"

func newScript(name string, keys []string, src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{name: name, keys: keys, src: src, sha: hex.EncodeToString(sum[:])}
}

// windowAdd: ARGV member, at, cutoff, from, to, ttl(ms). The member keeps
// its latest time (ZADD GT still adds new members); members older than
// cutoff = At−TTL go; the count covers [from, to].
var windowAddScript = newScript("windowAdd", []string{ownKey}, `
local k = KEYS[1]
redis.call('ZADD', k, 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', k, ARGV[6])
return redis.call('ZCOUNT', k, ARGV[4], ARGV[5])
`)

// windowRead: ARGV from, to, limit. Returns {count, members...}; sorted-set
// order (score, then member bytes) is the contract's order.
var windowReadScript = newScript("windowRead", []string{ownKey}, `
local k = KEYS[1]
local n = redis.call('ZCOUNT', k, ARGV[1], ARGV[2])
if n == 0 or tonumber(ARGV[3]) <= 0 then return {n} end
local m = redis.call('ZRANGE', k, ARGV[1], ARGV[2], 'BYSCORE', 'LIMIT', 0, ARGV[3])
table.insert(m, 1, n)
return m
`)

// windowAddRead: ARGV member, at, cutoff, from, to, ttl(ms), limit. windowAdd
// then windowRead over [from, to], in one script.
var windowAddReadScript = newScript("windowAddRead", []string{ownKey}, `
local k = KEYS[1]
redis.call('ZADD', k, 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[3])
redis.call('PEXPIRE', k, ARGV[6])
local n = redis.call('ZCOUNT', k, ARGV[4], ARGV[5])
if n == 0 or tonumber(ARGV[7]) <= 0 then return {n} end
local m = redis.call('ZRANGE', k, ARGV[4], ARGV[5], 'BYSCORE', 'LIMIT', 0, ARGV[7])
table.insert(m, 1, n)
return m
`)

// noveltyAdd: KEYS novelty set, its introductions hash; ARGV member, at,
// cutoff, ttl(ms), owner digest (empty for none), retry window (ms). Forgets
// first, so a member last seen before At−TTL is new again. An owner that
// made the member new gets New again on a retry. Returns {new (1/0), size}.
var noveltyAddScript = newScript("noveltyAdd", []string{ownKey, introSuffix}, `
local k, ik = KEYS[1], KEYS[2]
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[3])
local seen = redis.call('ZSCORE', k, ARGV[1])
local size = redis.call('ZCARD', k)
redis.call('ZADD', k, 'GT', ARGV[2], ARGV[1])
redis.call('PEXPIRE', k, ARGV[4])
if not seen then
	if ARGV[5] ~= '' then
		redis.call('HSET', ik, ARGV[1], ARGV[5])
		redis.call('PEXPIRE', ik, ARGV[6])
	end
	return {1, size}
end
if ARGV[5] ~= '' and redis.call('HGET', ik, ARGV[1]) == ARGV[5] then
	return {1, size - 1}
end
return {0, size}
`)

// mark: ARGV at (decimal nanoseconds), keep ('L' latest or 'E' earliest),
// ttl(ms). Returns the previous mark or nil; every call restarts the TTL.
// less compares decimal integers as strings: Lua numbers are doubles and
// would round nanoseconds since 1970; among digit strings of one length,
// string order is numeric order in every locale.
var markScript = newScript("mark", []string{ownKey}, `
local function less(a, b)
	local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
	if na ~= nb then return na end
	if #a ~= #b then return (#a < #b) ~= na end
	if a == b then return false end
	return (a < b) ~= na
end
local k, at = KEYS[1], ARGV[1]
local old = redis.call('GET', k)
if not old or (ARGV[2] == 'L' and less(old, at)) or (ARGV[2] == 'E' and less(at, old)) then
	redis.call('SET', k, at, 'PX', ARGV[3])
else
	redis.call('PEXPIRE', k, ARGV[3])
end
return old
`)

// bucketCounts is the Lua that tallies a key's entries per bucket over the
// n buckets ending at index last, oldest first. It visits only buckets that
// hold entries (a range read finds the next one, ZCOUNT counts it), so a
// 14-day history of hourly buckets with a few busy hours costs a few
// commands, not 336, and a dense bucket is counted without reading it.
const bucketCounts = `
local function counts(k, last, n)
	local first, out = last - n + 1, {}
	for i = 1, n do out[i] = 0 end
	local cur = first
	while cur <= last do
		local r = redis.call('ZRANGEBYSCORE', k, cur, last, 'WITHSCORES', 'LIMIT', 0, 1)
		if #r == 0 then break end
		local b = tonumber(r[2])
		out[b - first + 1] = redis.call('ZCOUNT', k, b, b)
		cur = b + 1
	end
	return out
end
`

// bucketAdd: ARGV bucket index, entry (index-tagged member), last index to
// drop, ttl(ms), history. Returns the history counts, oldest first.
var bucketAddScript = newScript("bucketAdd", []string{ownKey}, bucketCounts+`
local k = KEYS[1]
redis.call('ZADD', k, 'NX', ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYSCORE', k, '-inf', ARGV[3])
redis.call('PEXPIRE', k, ARGV[4])
return counts(k, tonumber(ARGV[1]), tonumber(ARGV[5]))
`)

// bucketRead: ARGV bucket index, history. Read-only twin of bucketAdd.
var bucketReadScript = newScript("bucketRead", []string{ownKey}, bucketCounts+`
return counts(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
`)

var allScripts = []*script{windowAddScript, windowAddReadScript, windowReadScript, noveltyAddScript, markScript, bucketAddScript, bucketReadScript}
