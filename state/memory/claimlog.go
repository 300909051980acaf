package memory

// claimLog holds a shard's claims in the order of their use, least recent
// first, and finds them by hash. Its records are its eviction queue: a
// claim used again is written anew at the end and its old record left
// dead, and eviction takes the first live record. A map of claims by hash
// and a queue of references to them beside it took 85 bytes a claim on the
// realistic month (a map's slot of 40 bytes over its fill, which averages
// about two thirds between growths, and a reference of 16 with its slack),
// and a lookup in the map, as large as the store's other state together,
// missed the caches: every event claims a new identity. The records here
// are filled in turn, in chunks of fixed size, with no slack but the last
// chunk's, and the index is 8 bytes a slot: 53 bytes a claim.
type claimLog struct {
	chunks [][]claim // claimChunk records each; records [0, n) are written
	n      int       // records written
	head   int       // records before it are dead
	live   int       // live records, the claims held

	// index finds a live claim's record by hash: open addressing with
	// linear probing, a power of two slots, at most 3/4 full. A slot is
	// empty (0) or holds the record's position + 1 in its low 32 bits and
	// the hash's high 32 bits in its high ones, which place it (a shard's
	// claims share the hash's low bits, which chose the shard) and spare
	// reading the records of most other claims a probe passes.
	index []uint64
}

// claimChunk is how many records a chunk of the log holds: 5,120 bytes,
// a shard's slack at most.
const claimChunk = 128

// at returns the record at position i.
func (l *claimLog) at(i int) *claim { return &l.chunks[i/claimChunk][i%claimChunk] }

// len returns how many claims the log holds.
func (l *claimLog) len() int { return l.live }

// home returns where a probe for a claim whose hash's high 32 bits are hi
// starts.
func (l *claimLog) home(hi uint64) int { return int(hi) & (len(l.index) - 1) }

// slot returns the index slot holding h's claim, or -1.
func (l *claimLog) slot(h uint64) int {
	if l.live == 0 {
		return -1
	}
	mask, hi := len(l.index)-1, h>>32
	for i := l.home(hi); ; i = (i + 1) & mask {
		s := l.index[i]
		if s == 0 {
			return -1
		}
		if s>>32 == hi && l.at(int(uint32(s))-1).h == h {
			return i
		}
	}
}

// get returns h's claim.
func (l *claimLog) get(h uint64) (claim, bool) {
	i := l.slot(h)
	if i < 0 {
		return claim{}, false
	}
	return *l.at(int(uint32(l.index[i])) - 1), true
}

// put writes c, under c.h, at the end of the log, as the most recently
// used claim; the record it replaces, if any, is left dead.
func (l *claimLog) put(c claim) {
	if i := l.slot(c.h); i >= 0 {
		l.at(int(uint32(l.index[i])) - 1).used = 0
		l.index[i] = uint64(l.append(c)+1) | c.h>>32<<32
		l.compact()
		return
	}
	l.add(c)
}

// add is put for a claim the log does not hold: the caller has just
// looked for it, and a second probe of the index (a cache miss, as a
// claim is of a new identity) is spared.
func (l *claimLog) add(c claim) {
	if (l.live+1)*4 > len(l.index)*3 {
		l.reindex(max(16, 2*len(l.index)))
	}
	l.insert(l.append(c))
	l.live++
}

// append writes c after the last record and returns its position.
func (l *claimLog) append(c claim) int {
	if l.n == len(l.chunks)*claimChunk {
		l.chunks = append(l.chunks, make([]claim, claimChunk))
	}
	*l.at(l.n) = c
	l.n++
	return l.n - 1
}

// insert adds the record at position i, a claim the index lacks.
func (l *claimLog) insert(i int) {
	h := l.at(i).h
	mask, hi := len(l.index)-1, h>>32
	j := l.home(hi)
	for l.index[j] != 0 {
		j = (j + 1) & mask
	}
	l.index[j] = uint64(i+1) | hi<<32
}

// drop deletes h's claim and returns it.
func (l *claimLog) drop(h uint64) (claim, bool) {
	i := l.slot(h)
	if i < 0 {
		return claim{}, false
	}
	r := l.at(int(uint32(l.index[i])) - 1)
	c := *r
	r.used = 0
	l.unindex(i)
	l.live--
	l.compact()
	return c, true
}

// unindex empties slot i, moving back the slots after it that a probe
// would no longer reach (deletion without tombstones).
func (l *claimLog) unindex(i int) {
	mask := len(l.index) - 1
	for {
		l.index[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			s := l.index[j]
			if s == 0 {
				return
			}
			// The slot at j stays when its home lies cyclically in (i, j].
			k := l.home(s >> 32)
			if (i < j && i < k && k <= j) || (i > j && (i < k || k <= j)) {
				continue
			}
			l.index[i] = s
			i = j
			break
		}
	}
}

// dropExpired deletes the claims expired by now, calling f with each.
func (l *claimLog) dropExpired(now int64, f func(c claim)) {
	for i := l.head; i < l.n; i++ {
		r := l.at(i)
		if r.used == 0 || r.expires > now {
			continue
		}
		l.unindex(l.slot(r.h))
		l.live--
		f(*r)
		r.used = 0
	}
	l.compact()
}

// oldest returns the least recently used claim.
func (l *claimLog) oldest() (claim, bool) {
	for ; l.head < l.n; l.head++ {
		if r := l.at(l.head); r.used != 0 {
			return *r, true
		}
	}
	return claim{}, false
}

// each calls f with every live claim, least recently used first; f may
// change the claim's value's place in the arena (at) and nothing else.
func (l *claimLog) each(f func(c *claim)) {
	for i := l.head; i < l.n; i++ {
		if r := l.at(i); r.used != 0 {
			f(r)
		}
	}
}

// compact copies the live records into fresh chunks, in order, once the
// dead ones outnumber them, and indexes them again: the log then holds at
// most twice its claims' records and a chunk, and each record is copied a
// constant number of times over its life. An index that lost most of its
// claims shrinks with it.
func (l *claimLog) compact() {
	if dead := l.n - l.live; dead < claimChunk || dead < l.live {
		return
	}
	old := *l
	l.chunks, l.n, l.head = nil, 0, 0
	old.each(func(c *claim) { l.append(*c) })
	size := 16
	for size*3 < l.live*4 {
		size *= 2
	}
	l.reindex(min(size, len(old.index)))
}

// reindex makes an index of size slots for the live records.
func (l *claimLog) reindex(size int) {
	l.index = make([]uint64, size)
	for i := l.head; i < l.n; i++ {
		if l.at(i).used != 0 {
			l.insert(i)
		}
	}
}
