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
// # Views: one read and one write per key
//
// A sorted set (window, novelty set, buckets) of fewer than VIEW members
// is read once, whole, with its scores (view), into a Lua table kept in
// server order (score, then member bytes: bless). Every operation of the
// group on it then runs on that table, as the commands would have run in
// queue order: drops of old members (vtrim), adds (vadd), counts and
// member reads cost no command. At the end (or before an operation of
// another kind on the key) the changes go back as one ZADD of the members
// added or moved and one ZREM of those dropped, ZADD first, so a key that
// existed keeps its TTL unless it ends empty. A drop that finds nothing
// older than its cutoff costs nothing: the table is ordered, its first
// member says. Scores stay the strings they arrived as, since Lua would
// format a number with %.14g and round it.
//
// A string read by get or mark is read once too (sget); a mark's change
// is written once at the end, as SET ... PX when the key's TTL is due
// anyway, so the PEXPIRE is saved.
//
// A set of VIEW members or more keeps the commands per operation:
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
// which visits only buckets holding entries and the one after each (a
// range read finds the next busy one after an empty one, ZCOUNT counts
// each), so a 14-day history of hourly buckets with a few busy hours
// costs a few commands, not 336; a group's next bucket operation on the
// same history reuses the counts (cnt). It never reads a page of
// entries with their scores: the server formats each score as a decimal
// and Lua parses it back, which for a history of hundreds of entries
// (a busy identity's days) costs more than two commands per bucket.
var groupScript = newScript("group", `
local exp, out, known = {}, {}, {}
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
-- counts walks the history's buckets: a ZCOUNT for the bucket after one
-- holding entries (active days come in runs), a range read to find the
-- next one holding entries after one that holds none.
local function counts(k, last, n)
	local first, res = last - n + 1, {}
	for i = 1, n do res[i] = 0 end
	local cur, jump = first, true
	while cur <= last do
		if jump then
			local r = redis.call('ZRANGE', k, cur, last, 'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')
			if #r == 0 then break end
			cur = tonumber(r[2])
		end
		local c = redis.call('ZCOUNT', k, cur, cur)
		res[cur - first + 1] = c
		jump = c == 0
		cur = cur + 1
	end
	return res
end
-- cnt[k] caches k's last history read (last, n, res) for the next
-- bucket operation of the group on k; clean[k] is a score at or below
-- which k holds no entry.
local cnt, clean = {}, {}
local function copy(t)
	local c = {}
	for i = 1, #t do c[i] = t[i] end
	return c
end
local function cachedCounts(k, last, n)
	local c = cnt[k]
	if not (c and c.last == last and c.n == n) then
		c = {last = last, n = n, res = counts(k, last, n)}
		cnt[k] = c
	end
	return copy(c.res)
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
-- bless is byte order, as Redis orders members of one score; Lua's own
-- string order follows the server's locale.
local function bless(a, b)
	if a == b then return false end
	for i = 1, math.min(#a, #b) do
		local x, y = a:byte(i), b:byte(i)
		if x ~= y then return x < y end
	end
	return #a < #b
end
-- zv[k] is the view of sorted set k: s (member → score), str (member →
-- score as sent, for the members to write back), ord (members in server order), had (k existed when
-- read), add and rem (members to write back, to remove); false when k
-- holds VIEW members or more, or when one operation only touches k (not
-- multi[k], which Go decides): its commands cost less than reading k whole.
local VIEW = 128
local zv, sv, multi = {}, {}, {}
local function view(k)
	local v = zv[k]
	if v ~= nil then return v end
	if not multi[k] then return false end
	local r = redis.call('ZRANGE', k, 0, VIEW - 1, 'WITHSCORES')
	if #r >= 2 * VIEW then
		zv[k] = false
		return false
	end
	local s, o = {}, {}
	for j = 1, #r, 2 do
		local m = r[j]
		s[m], o[#o + 1] = tonumber(r[j + 1]), m
	end
	v = {s = s, str = {}, ord = o, had = #r > 0, add = {}, rem = {}}
	zv[k] = v
	return v
end
-- vtrim drops the members scored below c (up to c when incl).
local function vtrim(v, c, incl)
	local o, s = v.ord, v.s
	local n, j = #o, 1
	while j <= n do
		local sc = s[o[j]]
		if sc > c or (sc == c and not incl) then break end
		local m = o[j]
		s[m], v.str[m], v.add[m], v.rem[m] = nil, nil, nil, true
		j = j + 1
	end
	if j == 1 then return end
	local w = 1
	for q = j, n do o[w], w = o[q], w + 1 end
	for q = w, n do o[q] = nil end
end
-- bound is the first position in v.ord scored at or above x (above x
-- when after).
local function bound(v, x, after)
	local o, s = v.ord, v.s
	local lo, hi = 1, #o + 1
	while lo < hi do
		local mid = math.floor((lo + hi) / 2)
		local sc = s[o[mid]]
		if sc < x or (after and sc == x) then lo = mid + 1 else hi = mid end
	end
	return lo
end
-- vadd adds m at score as (a as a number): keeping the greater score (GT),
-- or the present one (nx). It reports whether m is new.
local function vadd(v, m, as, a, nx)
	local s, o = v.s, v.ord
	local old = s[m]
	if old ~= nil and (nx or old >= a) then return false end
	if old ~= nil then
		local j = bound(v, old, false)
		while o[j] ~= m do j = j + 1 end
		table.remove(o, j)
	end
	s[m], v.str[m], v.add[m], v.rem[m] = a, as, true, nil
	local j = bound(v, a, false)
	while j <= #o and s[o[j]] == a and bless(o[j], m) do j = j + 1 end
	table.insert(o, j, m)
	return old == nil
end
-- vread counts the members scored in [from, to] and lists up to limit.
local function vread(v, from, to, limit)
	local lo = bound(v, from, false)
	local n = math.max(bound(v, to, true) - lo, 0)
	local res, o = {n}, v.ord
	for q = 1, math.min(n, limit) do res[q + 1] = o[lo + q - 1] end
	return res
end
local function vcounts(v, last, n)
	local first, res, o, s = last - n + 1, {}, v.ord, v.s
	for i = 1, n do res[i] = 0 end
	for q = bound(v, first, false), #o do
		local b = s[o[q]]
		if b > last then break end
		res[b - first + 1] = res[b - first + 1] + 1
	end
	return res
end
-- vflush writes v back to k: ZADD first, so k never empties on the way.
local function vflush(k, v)
	local a, r = {}, {}
	for m in pairs(v.add) do
		a[#a + 1], a[#a + 2] = v.str[m], m
	end
	for m in pairs(v.rem) do r[#r + 1] = m end
	if #a > 0 then redis.call('ZADD', k, unpack(a)) end
	if #r > 0 then redis.call('ZREM', k, unpack(r)) end
	if #v.ord == 0 and #r > 0 then
		known[k] = false -- gone; a later write recreates it without a TTL
	end
	v.add, v.rem = {}, {}
end
-- sget is the string cache of k: v (its value, false when none) and
-- dirty (v is to be written back).
local function sget(k)
	local c = sv[k]
	if c then return c end
	c = {v = redis.call('GET', k)}
	sv[k] = c
	return c
end
local function sflush(k, ttl)
	local c = sv[k]
	if not (c and c.dirty) then return false end
	c.dirty = false
	if ttl then
		redis.call('SET', k, c.v, 'PX', ttl)
		return true
	end
	redis.call('SET', k, c.v, 'KEEPTTL')
	return false
end
local window = {W = true, A = true, R = true, N = true}
local zset = {W = true, A = true, R = true, N = true, B = true, b = true}
-- settle writes back what another kind of operation on k must see.
local function settle(k, code)
	if not window[code] then flush(k) end
	if code ~= 'B' and code ~= 'b' then cnt[k], clean[k] = nil, nil end
	if zset[code] then
		sflush(k)
		sv[k] = nil
		return
	end
	if zv[k] then vflush(k, zv[k]) end
	zv[k] = nil
	if code ~= 'G' and code ~= 'M' then
		sflush(k)
		sv[k] = nil
	end
end
local ops = {}
ops.G = function(k) return sget(k).v end
ops.S = function(k, a, i)
	redis.call('SET', k, a[i+1], 'PX', a[i+2])
	exp[k] = nil
	return 'OK'
end
ops.C = function(k, a, i)
	local old = redis.call('SET', k, a[i+1], 'PX', a[i+2], 'NX', 'GET')
	if not old then exp[k] = nil end
	return old
end
ops.W = function(k, a, i)
	local v = view(k)
	if not v then
		winadd(k, a[i+1], a[i+2], a[i+3], a[i+6])
		return redis.call('ZCOUNT', k, lo(k, a[i+4]), a[i+5])
	end
	vtrim(v, tonumber(a[i+3]), false)
	vadd(v, a[i+1], a[i+2], tonumber(a[i+2]), false)
	write(k, a[i+6], v.had)
	return vread(v, tonumber(a[i+4]), tonumber(a[i+5]), 0)[1]
end
ops.A = function(k, a, i)
	local v = view(k)
	if not v then
		winadd(k, a[i+1], a[i+2], a[i+3], a[i+6])
		return winread(k, a[i+4], a[i+5], a[i+7])
	end
	vtrim(v, tonumber(a[i+3]), false)
	vadd(v, a[i+1], a[i+2], tonumber(a[i+2]), false)
	write(k, a[i+6], v.had)
	return vread(v, tonumber(a[i+4]), tonumber(a[i+5]), tonumber(a[i+7]))
end
ops.R = function(k, a, i)
	local v = view(k)
	if not v then return winread(k, a[i+1], a[i+2], a[i+3]) end
	return vread(v, tonumber(a[i+1]), tonumber(a[i+2]), tonumber(a[i+3]))
end
-- novelty answers whether m was seen (at seen) and how many members the
-- set held, after forgetting, before adding m at time at.
local function novelty(k, m, at, cutoff, ttl)
	local v = view(k)
	if v then
		vtrim(v, tonumber(cutoff), false)
		local seen, size = v.s[m], #v.ord
		vadd(v, m, at, tonumber(at), false)
		write(k, ttl, v.had)
		return seen or false, size
	end
	if pendAt[k] and tonumber(at) < pendAt[k] then flush(k) end
	if pendAt[k] and pendAt[k] > tonumber(cutoff) then cutoff = pend[k] end
	local seen = redis.call('ZSCORE', k, m)
	local existed = seen ~= false
	if seen and tonumber(seen) < tonumber(cutoff) then seen = false end
	local size = redis.call('ZCOUNT', k, cutoff, '+inf')
	redis.call('ZADD', k, 'GT', at, m)
	pend[k], pendAt[k] = cutoff, tonumber(cutoff)
	write(k, ttl, existed or size > 0)
	return seen and tonumber(seen), size
end
ops.N = function(k, a, i)
	local ik, m, owner = KEYS[tonumber(a[i+1])], a[i+2], a[i+6]
	local seen, size = novelty(k, m, a[i+3], a[i+4], a[i+5])
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
	if owner ~= '' and seen >= tonumber(a[i+3]) and redis.call('HGET', ik, m) == owner then
		return {1, size - 1}
	end
	return {0, size}
end
ops.M = function(k, a, i)
	local at, keep = a[i+1], a[i+2]
	local c = sget(k)
	local old = c.v
	if not old or (keep == 'L' and less(old, at)) or (keep == 'E' and less(at, old)) then
		c.v, c.dirty = at, true
	end
	write(k, a[i+3], old)
	return old
end
ops.B = function(k, a, i)
	local v = view(k)
	if v then
		cnt[k], clean[k] = nil, nil
		vadd(v, a[i+2], a[i+1], tonumber(a[i+1]), true)
		vtrim(v, tonumber(a[i+3]), true)
		write(k, a[i+4], v.had)
		return vcounts(v, tonumber(a[i+1]), tonumber(a[i+5]))
	end
	local idx, drop, n = tonumber(a[i+1]), tonumber(a[i+3]), tonumber(a[i+5])
	local added = redis.call('ZADD', k, 'NX', a[i+1], a[i+2])
	local dropped = 0
	if clean[k] and idx <= clean[k] then clean[k] = idx - 1 end
	if not clean[k] or drop > clean[k] then
		dropped = redis.call('ZREMRANGEBYSCORE', k, '-inf', a[i+3])
		clean[k] = drop
	end
	write(k, a[i+4], added == 0 and dropped == 0)
	local c = cnt[k]
	if c and dropped == 0 and idx >= c.last - c.n + 1 and idx <= c.last then
		c.res[idx - c.last + c.n] = c.res[idx - c.last + c.n] + added
	else
		cnt[k] = nil
	end
	return cachedCounts(k, idx, n)
end
ops.b = function(k, a, i)
	local v = view(k)
	if v then return vcounts(v, tonumber(a[i+1]), tonumber(a[i+2])) end
	return cachedCounts(k, tonumber(a[i+1]), tonumber(a[i+2]))
end
local width = {G = 1, S = 3, C = 3, W = 7, A = 8, R = 4, N = 8, M = 4, B = 6, b = 3}
-- A negative key index asks for settle first: Go sends one only when an
-- earlier operation of the group on that key is of another kind, since
-- settle has nothing to write back otherwise.
local function run(code, a, i)
	local n = tonumber(a[i])
	if n < 0 then
		n = -n
		settle(KEYS[n], code)
	end
	return ops[code](KEYS[n], a, i)
end
-- ARGV[1] holds one flag per key: bit 1 ('2', '3') says two or more
-- operations of the group work on it, so it may be viewed; bit 0 is the
-- refresh flag (see refresh below).
local flags = ARGV[1]
for n, k in ipairs(KEYS) do
	if flags:byte(n) >= 50 then multi[k] = true end
end
local i, j = 2, 0
while i <= #ARGV do
	local code = ARGV[i]
	local ok, r = pcall(run, code, ARGV, i + 1)
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
-- refresh: bit 0 of a key's flag ('1', '3') says this replica set the
-- key's TTL less than a refresh period ago, so a key that existed before
-- the group (and so has that TTL) needs no PEXPIRE.
for n, k in ipairs(KEYS) do
	if zv[k] then vflush(k, zv[k]) end
	local ttl = exp[k]
	if ttl and known[k] and flags:byte(n) % 2 == 1 then ttl = nil end
	if not sflush(k, ttl) and ttl then redis.call('PEXPIRE', k, ttl) end
end
return out
`)

var allScripts = []*script{groupScript, casScript}
