package record

import (
	"fmt"

	"github.com/iamsentry/iamsentry/state"
)

// Side records and pages: what a record keeps outside itself, found
// again (Needs, Attach) and split as it grows.

// splitPage splits loaded page i in two by the next bit of its entries'
// names, both to be written.
func (r *Record) splitPage(i int) {
	pg := &r.pages[i]
	delete(r.pageIndex, pageID(pg.bits, pg.prefix))
	high := page{bits: pg.bits + 1, prefix: pg.prefix | 1<<pg.bits, loaded: true, dirty: true}
	pg.bits++
	pg.log = false // its key names its old prefix: it is written whole
	r.pageIndex[pageID(pg.bits, pg.prefix)] = i
	var low []*entry
	for _, e := range pg.entries {
		if e.name&(1<<(high.bits-1)) != 0 {
			high.entries = append(high.entries, e)
		} else {
			low = append(low, e)
		}
	}
	pg.entries = low
	r.bitsRange[1] = max(r.bitsRange[1], pg.bits)
	r.addPage(high)
	r.bitsRange[0] = r.pages[0].bits
	for _, p := range r.pages {
		r.bitsRange[0] = min(r.bitsRange[0], p.bits)
	}
}

// Need is a side record the operations of a batch need before they can
// be applied: a page not loaded, or the side record of a large entry.
type Need struct {
	Suffix  string // the side record's key is the record's, ":", Suffix
	page    int    // the page, or -1
	name    uint64 // the entry, when not a page
	version [VersionSize]byte
}

// Needs returns the side records ops need that are not attached. Pages
// come first: an entry of a page not loaded is only known once it is, so
// the caller asks again after attaching them.
func (r *Record) Needs(ops []state.Op, now int64) []Need {
	return r.NeedsNamed(Names(ops, nil), now)
}

// NeedsNamed is Needs for the digests of the operations' key names (see
// Names).
func (r *Record) NeedsNamed(names []uint64, now int64) []Need {
	if r.pages == nil && !r.stubs {
		return nil
	}
	var out []Need
	var seen map[string]bool
	for _, name := range names {
		if r.pages != nil {
			p := r.pageOf(name)
			pg := &r.pages[p]
			if !pg.loaded && pg.expires <= now {
				pg.loaded = true // expired with everything in it
			}
			if !pg.loaded {
				n := Need{Suffix: pg.stored, page: p, version: pg.version}
				if !seen[n.Suffix] {
					if seen == nil {
						seen = make(map[string]bool)
					}
					seen[n.Suffix] = true
					out = append(out, n)
				}
				continue
			}
		}
		i := r.find(name)
		if i < 0 {
			continue
		}
		if e := r.entries[i]; e.stub && e.kind != 0 && e.expires > now {
			n := Need{Suffix: e.stored, page: -1, name: name, version: e.version}
			if !seen[n.Suffix] {
				if seen == nil {
					seen = make(map[string]bool)
				}
				seen[n.Suffix] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// Attach puts a side record the caller read for n (nil when its key is
// gone) in place. It reports false when the side record is not the version
// r names: r was read before a newer write of both, and the caller must
// read r again.
func (r *Record) Attach(n Need, side []byte, now int64) (bool, error) {
	r.sized, r.tally.ok = false, false
	if side != nil {
		if v, _ := Version(side); v != n.version {
			return false, nil
		}
	}
	if n.page >= 0 {
		return r.attachPage(n.page, side, now)
	}
	i := r.find(n.name)
	if i < 0 || !r.entries[i].stub {
		return true, nil
	}
	stub := r.entries[i]
	if side == nil {
		r.reset(stub, 0) // expired with its side record
		return true, nil
	}
	sr, err := Decode(side, now)
	if err != nil {
		return false, fmt.Errorf("side record: %w", err)
	}
	if len(sr.entries) == 0 {
		r.reset(stub, 0)
		return true, nil
	}
	e := sr.entries[0]
	if e.name != n.name || e.kind != stub.kind || e.stub || sr.pages != nil {
		return false, fmt.Errorf("%w: side record holds another entry than its stub names", ErrCorrupt)
	}
	e.side, e.version, e.size, e.stored = true, stub.version, len(side), stub.stored
	r.entries[i] = e
	return true, nil
}

func (r *Record) attachPage(p int, side []byte, now int64) (bool, error) {
	if p >= len(r.pages) || r.pages[p].loaded {
		return true, nil
	}
	r.pages[p].loaded = true
	if side == nil {
		return true, nil // expired with everything in it
	}
	pr, err := Decode(side, now)
	if err != nil {
		return false, fmt.Errorf("page %d: %w", p, err)
	}
	r.pages[p].size = len(side)
	if pr.pages != nil {
		return false, fmt.Errorf("%w: page %d is paged itself", ErrCorrupt, p)
	}
	for _, e := range pr.entries {
		if r.pageOf(e.name) != p || r.find(e.name) >= 0 {
			return false, fmt.Errorf("%w: page %d holds an entry of another page", ErrCorrupt, p)
		}
		r.add(e)
	}
	r.attachedPage(&r.pages[p], side, pr.entries)
	return true, nil
}

// directory decodes a paged record's page directory.
func (d *decoder) directory() (*Record, error) {
	n := d.count(VersionSize + 3)
	if d.err == nil && (n < 1 || n > 1<<maxPageBits) {
		d.fail("%d pages, want 1 to %d", n, 1<<maxPageBits)
	}
	r := &Record{pages: make([]page, 0, n)}
	var cover uint64 // the share of names the pages cover, in 2^-maxPageBits
	for range n {
		var pg page
		pg.bits = d.byte()
		pg.prefix = d.uvarint()
		if d.err == nil && (pg.bits > maxPageBits || pg.prefix >= 1<<pg.bits) {
			d.fail("page prefix %x of %d bits", pg.prefix, pg.bits)
		}
		if d.err == nil && r.pageIndex[pageID(pg.bits, pg.prefix)] != 0 {
			d.fail("page %x of %d bits repeated", pg.prefix, pg.bits)
		}
		cover += 1 << (maxPageBits - pg.bits)
		if p := d.bytes(VersionSize); p != nil {
			copy(pg.version[:], p)
		}
		ms := d.uvarint()
		if ms > 1<<62/1_000_000 {
			d.fail("expiry %d out of range", ms)
		}
		pg.expires = int64(ms) * 1_000_000
		if d.err != nil {
			break
		}
		if d.versioned {
			pg.stored = pageSuffix(pg.bits, pg.prefix, &pg.version)
		} else {
			pg.stored = pageSuffix(pg.bits, pg.prefix, nil)
		}
		r.pageIndex = cmpOr(r.pageIndex)
		r.pageIndex[pageID(pg.bits, pg.prefix)] = len(r.pages) + 1 // +1 while decoding: 0 is absent
		if len(r.pages) == 0 {
			r.bitsRange = [2]uint8{pg.bits, pg.bits}
		}
		r.bitsRange = [2]uint8{min(r.bitsRange[0], pg.bits), max(r.bitsRange[1], pg.bits)}
		r.pages = append(r.pages, pg)
	}
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the page directory", len(d.b)-d.off)
	}
	if d.err == nil && !r.covers(cover) {
		d.fail("the pages do not cover every name once")
	}
	for id := range r.pageIndex {
		r.pageIndex[id]--
	}
	if d.err != nil {
		return nil, d.err
	}
	return r, nil
}

func cmpOr(m map[uint64]int) map[uint64]int {
	if m == nil {
		return make(map[uint64]int)
	}
	return m
}

// covers reports whether the decoded pages, whose shares add up to cover,
// are a directory: no page's prefix extends another's and together they
// cover every name.
func (r *Record) covers(cover uint64) bool {
	if cover != 1<<maxPageBits {
		return false
	}
	for _, pg := range r.pages {
		for b := uint8(0); b < pg.bits; b++ {
			if r.pageIndex[pageID(b, pg.prefix&(1<<b-1))] != 0 {
				return false
			}
		}
	}
	return true
}

// Named returns the suffixes of the side records an encoded record or page
// names itself, live at now: a directory's pages, or the side records of
// the large entries it holds (a page's are named by the page). Together
// with what its pages name, that is every key a record needs: anything
// else under its tag is a leftover.
func Named(b []byte, now int64) ([]string, error) {
	r, err := Decode(b, now)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, pg := range r.pages {
		if pg.expires > now {
			out = append(out, pg.stored)
		}
	}
	for _, e := range r.entries {
		if e.stub && e.expires > now {
			out = append(out, e.stored)
		}
	}
	return out, nil
}
