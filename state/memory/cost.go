package memory

import (
	"math/bits"
	"unsafe"
)

// The store keeps within its budget by accounting, for every identity, the
// heap bytes its state takes: the Go allocations each structure makes,
// rounded up to the runtime's size classes, and Go's map layout (groups of
// eight slots and a control word, at most 7/8 full, never shrinking).
// BenchmarkFootprint compares the sum with the heap the runtime reports for
// the real detectors; the estimate is within a few percent of it.

// sizeClasses are the runtime's small allocation sizes (runtime/sizeclasses.go).
var sizeClasses = [...]int64{8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224,
	240, 256, 288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408,
	1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192,
	9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072, 20480, 21760, 24576, 27264,
	28672, 32768}

// smallClass is the size class of every allocation up to smallMax
// bytes, by 8-byte step: cost runs at every write, twice, and a table
// lookup is cheaper than the binary search (as in the runtime's own
// size_to_class8).
var smallClass = func() (t [smallMax/8 + 1]int64) {
	for i := range t {
		t[i] = searchClass(int64(i) * 8)
	}
	return t
}()

const smallMax = 1024

// alloc returns the heap bytes an allocation of n bytes takes.
func alloc(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if n <= smallMax {
		return smallClass[(n+7)/8]
	}
	return searchClass(n)
}

// searchClass is alloc by binary search over the size classes.
func searchClass(n int64) int64 {
	if n <= 0 {
		return 0
	}
	if n > sizeClasses[len(sizeClasses)-1] {
		return (n + 8191) &^ 8191 // large objects take whole pages
	}
	lo, hi := 0, len(sizeClasses)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if sizeClasses[mid] < n {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return sizeClasses[lo]
}

// str returns the bytes of a string of n bytes the store copied. Copies of
// under 16 bytes share blocks in the runtime's tiny allocator, so a flat
// rounding to 8 is closer than the size classes.
func str(n int64) int64 {
	if n < 16 {
		return (n + 7) &^ 7
	}
	return alloc(n)
}

const (
	mapHeader = 48 // the map itself (internal/runtime/maps.Map)
	mapTable  = 32 // one table of a map past eight slots
	tableCap  = 1024
	slotsPerG = 8
)

// mapBytes returns the heap a map of n entries (at its largest) takes whose
// slots (key and value) are slot bytes each.
func mapBytes(n int, slot int64) int64 {
	if n < len(stringMaps) {
		switch slot {
		case 16:
			return stringMaps[n][0]
		case 16 + 8:
			return stringMaps[n][1]
		}
	}
	return mapBytesOf(n, slot)
}

// stringMaps holds mapBytes of the maps the store keeps by string (sets
// of members, 16-byte slots; member times and entries' indexes, 24), up
// to smallMax entries: cost works it out at every write that changes a
// set past eight members, and the sum took some 140 instructions a time.
var stringMaps = func() (t [smallMax + 1][2]int64) {
	for n := range t {
		t[n] = [2]int64{mapBytesOf(n, 16), mapBytesOf(n, 16+8)}
	}
	return t
}()

// mapBytesOf is mapBytes worked out.
func mapBytesOf(n int, slot int64) int64 {
	if n == 0 {
		return alloc(mapHeader)
	}
	group := int64(slotsPerG) + slotsPerG*slot // control word and eight slots
	if n <= slotsPerG {
		return alloc(mapHeader) + alloc(group)
	}
	capacity := max(16, int64(1)<<bits.Len64(uint64((n*8+6)/7-1)))
	tables := (capacity + tableCap - 1) / tableCap
	perTable := min(capacity, tableCap) / slotsPerG * group
	return alloc(mapHeader) + alloc(8*tables) + tables*(alloc(mapTable)+alloc(perTable))
}

var (
	entrySize = alloc(int64(unsafe.Sizeof(entry{})))
	groupSize = alloc(int64(unsafe.Sizeof(group{})))
	// groupSlot is an identity's share of its shard's map: one slot (a
	// hash and a pointer) and its control byte, over the average fill of a
	// map between growths (3/4).
	groupSlot  = int64(8+8+1) * 4 / 3
	introSize  = int64(unsafe.Sizeof(introduction{}))
	timedSize  = int64(unsafe.Sizeof(timed{}))
	bucketSize = int64(unsafe.Sizeof(bucket{}))
	auxSize    = alloc(int64(unsafe.Sizeof(aux{})))
)

// claimSlot is a claim's share of its shard's claim log (see claimLog):
// its record and half a dead one, the log holding up to as many dead
// records as live ones before it compacts, and an index slot of 8 bytes
// over the index's fill, between 3/8 and 3/4.
var claimSlot = int64(unsafe.Sizeof(claim{}))*3/2 + 2*8

// cost returns the bytes c takes: its slot's share and twice its value's
// bytes in the arena, which holds up to as many dead bytes as live ones
// before it compacts (see claimArena.compact).
func (c claim) cost() int64 {
	return claimSlot + 2*int64(c.valLen)
}

// cost returns the bytes e takes, its name's copy included. Member copies
// are counted by length plus 4, the average rounding of small allocations
// to 8-byte steps.
func (e *entry) cost() int64 {
	n := entrySize + str(int64(len(e.name))) + str(int64(len(e.value)))
	if e.members.many != nil {
		n += mapBytes(int(e.peak), 16+8)
	}
	if cap(e.members.few) > 0 { // a window set keeps both past fewSorted
		n += alloc(timedSize * int64(cap(e.members.few)))
	}
	if e.kind == kindNovelty && (e.members.many != nil || e.members.few != nil) {
		n += e.strs + 4*int64(e.members.len())
	}
	if e.aux != nil {
		n += auxSize + alloc(bucketSize*int64(cap(e.aux.buckets))) + e.aux.text.held
	}
	if e.kind == kindBuckets {
		n += e.strs + e.mark // the sets' bytes, kept as they change
	}
	if cap(e.intro) > 0 {
		n += alloc(introSize * int64(cap(e.intro)))
	}
	if e.kind == kindWindowPair {
		n += e.aux.twin.cost()
	}
	return n
}

// setBytes returns the bytes a bucket's set of n members takes besides the
// members' copies: its map, which never shrinks (a set only grows until its
// bucket is dropped), and the average rounding of each copy. A bucket entry
// keeps the sum over its sets as they change, since summing them on every
// write walked every bucket twice per operation.
func setBytes(n int) int64 {
	return mapBytes(n, 16) + 4*int64(n)
}

// cost returns the bytes g takes besides its entries: the group, its slot
// in the shard's map, the identity's copy, the slice of entries and its
// index (its guesses and its map). The map, which never shrinks, is
// costed at the slice's capacity, which never shrinks either and is at
// least the most entries the group held: an upper bound.
func (g *group) cost() int64 {
	n := groupSize + groupSlot + str(int64(len(g.key.identity))) + alloc(8*int64(cap(g.entries)))
	if g.index != nil {
		n += nameIndexSize + mapBytes(cap(g.entries), 16+8)
	}
	return n
}
