package policy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// encodingVersion is the first byte of an encoded Summary; a change of
// layout takes a new version, and old values are then rejected (they are
// only remembered state, safe to lose).
const encodingVersion = 1

// AppendBinary appends the compact encoding of s to b: a version byte, a
// flags byte, the statement count, then each grant as kind, flags and three
// length-prefixed strings. A summary of a few grants takes well under 200
// bytes.
func (s Summary) AppendBinary(b []byte) ([]byte, error) {
	var flags byte
	if s.Truncated {
		flags |= 1
	}
	b = append(b, encodingVersion, flags)
	b = binary.AppendUvarint(b, uint64(s.Statements))
	b = binary.AppendUvarint(b, uint64(len(s.Grants)))
	for _, g := range s.Grants {
		var gf byte
		if g.Conditional {
			gf |= 1
		}
		b = append(b, byte(g.Kind), gf)
		b = appendString(b, g.Subject)
		b = appendString(b, g.Conditions)
		b = appendString(b, g.Via)
	}
	return b, nil
}

// MarshalBinary returns the compact encoding of s (see AppendBinary).
func (s Summary) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// errEncoding is wrapped by UnmarshalBinary's errors.
var errEncoding = errors.New("policy summary encoding")

// UnmarshalBinary reads a Summary encoded by MarshalBinary. It checks
// everything Analyze guarantees (known kinds, sorted unique grants, limits),
// since state may hold anything.
func (s *Summary) UnmarshalBinary(data []byte) error {
	d := decoder{b: data}
	if v := d.byte(); v != encodingVersion {
		return fmt.Errorf("%w: version %d, want %d", errEncoding, v, encodingVersion)
	}
	flags := d.byte()
	stmts := d.uvarint()
	n := d.uvarint()
	if d.err != nil || n > MaxGrants || stmts > math.MaxInt32 {
		return fmt.Errorf("%w: bad header", errEncoding)
	}
	out := Summary{Statements: int(stmts), Truncated: flags&1 != 0}
	if n > 0 {
		out.Grants = make([]Grant, 0, n)
	}
	for i := range n {
		g := Grant{Kind: Kind(d.byte())}
		g.Conditional = d.byte()&1 != 0
		g.Subject = d.string(maxSubject)
		g.Conditions = d.string(maxConditions)
		g.Via = d.string(maxVia)
		if d.err != nil {
			return fmt.Errorf("%w: grant %d: %v", errEncoding, i, d.err)
		}
		if g.Kind == 0 || g.Kind >= kindLimit {
			return fmt.Errorf("%w: grant %d: unknown kind %d", errEncoding, i, g.Kind)
		}
		if len(out.Grants) > 0 && compareGrants(out.Grants[len(out.Grants)-1], g) >= 0 {
			return fmt.Errorf("%w: grant %d out of order", errEncoding, i)
		}
		out.Grants = append(out.Grants, g)
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errEncoding, len(d.b))
	}
	*s = out
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string(limit int) string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(limit) || n > uint64(len(d.b)) {
		d.fail("string too long")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) fail(why string) {
	if d.err == nil {
		d.err = errors.New(why)
	}
}
