package redis

import (
	"crypto/sha1"
	"encoding/hex"
)

// A script is Lua the server caches and runs by its SHA-1 (EVALSHA).
//
// Times arrive as integer microseconds (see the package doc): they are exact
// as Lua numbers and as sorted-set scores up to the year 2255. Bucket
// indexes arrive formatted by Go; history indexes are formatted with %d in
// Lua, never with tostring, whose %.14g would round large ones.
type script struct {
	name string
	src  string
	sha  string
}

func newScript(name, src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{name: name, src: src, sha: hex.EncodeToString(sum[:])}
}

// Operation codes of the group script, and how many ARGV each takes after
// its code. Key arguments are indexes into KEYS: one group runs the
// operations of one hash tag, so every key it names sits on one Cluster
// slot. The Go side (encode) and the Lua side must agree on these.
const (
	opGet           = "G" // key
	opPut           = "S" // key, value, ttl(ms)
	opClaim         = "C" // key, value, ttl(ms): SET NX GET, for claims and throttles
	opWindowAdd     = "W" // key, member, at, cutoff, from, to, ttl(ms)
	opWindowAddRead = "A" // key, member, at, cutoff, from, to, ttl(ms), limit
	opWindowRead    = "R" // key, from, to, limit
	opNovelty       = "N" // key, intro key, member, at, cutoff, ttl(ms), owner digest, retry window(ms)
	opMark          = "M" // key, at (decimal ns), keep (L/E), ttl(ms)
	opBucketAdd     = "B" // key, index, entry, drop-through index, ttl(ms), history
	opBucketRead    = "b" // key, index, history
)

// opArgs is how many ARGV each operation code takes after the code.
var opArgs = map[string]int{
	opGet: 1, opPut: 3, opClaim: 3, opWindowAdd: 7, opWindowAddRead: 8, opWindowRead: 4,
	opNovelty: 8, opMark: 4, opBucketAdd: 6, opBucketRead: 3,
}

// groupScript runs a sequence of operations on the keys of one hash tag,
// in queue order, as one atomic step, and returns one reply per operation:
// its result, or an error reply when it failed (a key of the wrong type),
// which fails that operation only.
//
// Batching them saves a script call per operation, and lets every key's
// TTL be set once, at the end, to the TTL of the last operation that wrote
// it: the script is atomic, so nobody sees the keys in between, and each
// key still expires TTL after its last write, as the contract says.
//
// windowAdd keeps a member's latest time (ZADD GT still adds new ones) and
// drops members older than cutoff = At−TTL. The dropping is deferred to
// the end of the group, once per key at the highest cutoff (pend): until
// then a read counts from no lower than that cutoff, which is exactly
// what dropping at each add would leave, since every member below it was
// added before the add that set it. A member added below it (an event
// later than TTL) would not be: such an add, and any other operation on
// the key, drops first. noveltyAdd forgets first, so a
// member last seen before At−TTL is new again (forgetting is deferred as
// a window's dropping is, and counted around the same way); an owner that made the
// member new gets New again on a retry (the intro hash remembers who).
// mark compares decimal integers as strings (less): Lua numbers are doubles
// and would round nanoseconds since 1970; among digit strings of one
// length, string order is numeric order. Buckets are tallied by counts,
// which reads the history's entries a page (PAGE) at a time with their
// scores and tallies them in Lua: one command for a history of fewer
// entries than a page, and per further page one more, plus a ZCOUNT of the
// bucket the page may have cut short.
var groupScript = newScript("group", `
local exp, out, known = {}, {}, {}
local PAGE = 256
-- write records that k is to expire ttl from now, and whether k existed
-- before the group first wrote it (evidence from that write's reply):
-- only then may its refresh be skipped (see refresh below).
local function write(k, ttl, existed)
	exp[k] = ttl
	if known[k] == nil then known[k] = existed and true or false end
end
local function less(a, b)
	local na, nb = a:sub(1, 1) == '-', b:sub(1, 1) == '-'
	if na ~= nb then return na end
	if #a ~= #b then return (#a < #b) ~= na end
	if a == b then return false end
	return (a < b) ~= na
end
local function counts(k, last, n)
	local first, res = last - n + 1, {}
	for i = 1, n do res[i] = 0 end
	local cur = first
	while cur <= last do
		local r = redis.call('ZRANGE', k, cur, last, 'BYSCORE', 'LIMIT', 0, PAGE, 'WITHSCORES')
		for j = 2, #r, 2 do
			local b = tonumber(r[j]) - first + 1
			res[b] = res[b] + 1
		end
		if #r < 2 * PAGE then break end
		-- a full page may have cut the last bucket short: count it
		local b = tonumber(r[#r])
		res[b - first + 1] = redis.call('ZCOUNT', k, b, b)
		cur = b + 1
	end
	return res
end
local pend, pendAt = {}, {}
local function flush(k)
	if pend[k] then
		if redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. pend[k]) > 0 and known[k] then
			known[k] = false -- it may be gone now, and come back without a TTL
		end
		pend[k], pendAt[k] = nil, nil
	end
end
local function lo(k, from)
	if pendAt[k] and tonumber(from) < pendAt[k] then return pend[k] end
	return from
end
local function winread(k, from, to, limit)
	from = lo(k, from)
	local n = redis.call('ZCOUNT', k, from, to)
	if n == 0 or tonumber(limit) <= 0 then return {n} end
	local m = redis.call('ZRANGE', k, from, to, 'BYSCORE', 'LIMIT', 0, limit)
	table.insert(m, 1, n)
	return m
end
local function winadd(k, m, at, cutoff, ttl)
	if pendAt[k] and tonumber(at) < pendAt[k] then flush(k) end
	local added = redis.call('ZADD', k, 'GT', at, m)
	local c = tonumber(cutoff)
	if not pendAt[k] or c > pendAt[k] then pend[k], pendAt[k] = cutoff, c end
	write(k, ttl, added == 0)
end
local ops = {}
ops.G = function(a, i) return redis.call('GET', KEYS[tonumber(a[i])]) end
ops.S = function(a, i)
	local k = KEYS[tonumber(a[i])]
	redis.call('SET', k, a[i+1], 'PX', a[i+2])
	exp[k] = nil
	return 'OK'
end
ops.C = function(a, i)
	local k = KEYS[tonumber(a[i])]
	local old = redis.call('SET', k, a[i+1], 'PX', a[i+2], 'NX', 'GET')
	if not old then exp[k] = nil end
	return old
end
ops.W = function(a, i)
	local k = KEYS[tonumber(a[i])]
	winadd(k, a[i+1], a[i+2], a[i+3], a[i+6])
	return redis.call('ZCOUNT', k, lo(k, a[i+4]), a[i+5])
end
ops.A = function(a, i)
	local k = KEYS[tonumber(a[i])]
	winadd(k, a[i+1], a[i+2], a[i+3], a[i+6])
	return winread(k, a[i+4], a[i+5], a[i+7])
end
ops.R = function(a, i) return winread(KEYS[tonumber(a[i])], a[i+1], a[i+2], a[i+3]) end
ops.N = function(a, i)
	local k, ik, m, owner = KEYS[tonumber(a[i])], KEYS[tonumber(a[i+1])], a[i+2], a[i+6]
	if pendAt[k] and tonumber(a[i+3]) < pendAt[k] then flush(k) end
	local cutoff = a[i+4]
	if pendAt[k] and pendAt[k] > tonumber(cutoff) then cutoff = pend[k] end
	local seen = redis.call('ZSCORE', k, m)
	local existed = seen ~= false
	if seen and tonumber(seen) < tonumber(cutoff) then seen = false end
	local size = redis.call('ZCOUNT', k, cutoff, '+inf')
	redis.call('ZADD', k, 'GT', a[i+3], m)
	pend[k], pendAt[k] = cutoff, tonumber(cutoff)
	write(k, a[i+5], existed or size > 0)
	if not seen then
		if owner ~= '' then
			redis.call('HSET', ik, m, owner)
			write(ik, a[i+7], false)
		end
		return {1, size}
	end
	-- Only the add that made m new can have introduced it, at a time no
	-- later than its score (it keeps its latest time): an earlier score
	-- rules the owner out without asking the hash.
	if owner ~= '' and tonumber(seen) >= tonumber(a[i+3]) and redis.call('HGET', ik, m) == owner then
		return {1, size - 1}
	end
	return {0, size}
end
ops.M = function(a, i)
	local k, at, keep = KEYS[tonumber(a[i])], a[i+1], a[i+2]
	local old = redis.call('GET', k)
	if not old or (keep == 'L' and less(old, at)) or (keep == 'E' and less(at, old)) then
		redis.call('SET', k, at, 'KEEPTTL')
	end
	write(k, a[i+3], old)
	return old
end
ops.B = function(a, i)
	local k = KEYS[tonumber(a[i])]
	local added = redis.call('ZADD', k, 'NX', a[i+1], a[i+2])
	local dropped = redis.call('ZREMRANGEBYSCORE', k, '-inf', a[i+3])
	write(k, a[i+4], added == 0 and dropped == 0)
	return counts(k, tonumber(a[i+1]), tonumber(a[i+5]))
end
ops.b = function(a, i) return counts(KEYS[tonumber(a[i])], tonumber(a[i+1]), tonumber(a[i+2])) end
local width = {G = 1, S = 3, C = 3, W = 7, A = 8, R = 4, N = 8, M = 4, B = 6, b = 3}
local window = {W = true, A = true, R = true, N = true}
local i, j = 2, 0
while i <= #ARGV do
	local code = ARGV[i]
	if not window[code] then flush(KEYS[tonumber(ARGV[i + 1])]) end
	local ok, r = pcall(ops[code], ARGV, i + 1)
	j = j + 1
	if not ok then
		if type(r) == 'table' and r.err then out[j] = r else out[j] = {err = tostring(r)} end
	elseif r == nil then
		out[j] = false
	else
		out[j] = r
	end
	i = i + 1 + width[code]
end
for k in pairs(pend) do flush(k) end
-- refresh: ARGV[1] holds one flag per key; '1' says this replica set
-- the key's TTL less than a refresh period ago, so a key that existed
-- before the group (and so has that TTL) needs no PEXPIRE.
local refresh = ARGV[1]
for n, k in ipairs(KEYS) do
	local ttl = exp[k]
	if ttl and not (known[k] and refresh:sub(n, n) == '1') then redis.call('PEXPIRE', k, ttl) end
end
return out
`)

var allScripts = []*script{groupScript}
