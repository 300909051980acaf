package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/iamsentry/iamsentry/state/internal/record"
)

// Reading records on the record layout: from the replica cache, else
// assumed absent (a miss), else, when a side record was newer or gone, one
// pipelined GET of every record to read again; then the pages and side
// records the operations need.

// fetch finds each identity's record in the cache. A record missing from
// it is assumed absent, not read: most misses are records that do not
// exist yet (an hour's claims, a new session, a first-seen key; this
// replica caches every record it read or wrote), and the version-checked
// write expecting none (casScript) is the read: it stores the record when
// there was none, and else is refused with the current bytes, on which
// the operations are applied again, as after another replica's write, but
// without waiting (see raced). A one-event batch on a record this replica
// never saw then costs one round trip, not two; a miss on a record that
// exists costs what it did, two. Records to read again (refetch) are read,
// all in one pipeline.
func (s *Store) fetch(ctx context.Context, ids []*identity, now int64) error {
	var miss []*identity
	for _, id := range ids {
		if id.done || id.cur != nil {
			continue
		}
		if !id.refetch {
			if id.cur = s.recs.take(id.key); id.cur != nil {
				s.recs.hits.Add(1)
				continue
			}
			s.recs.misses.Add(1)
			id.cur, id.guessed = &cachedRecord{rec: &record.Record{}}, true
			continue
		}
		s.recs.misses.Add(1)
		id.refetch = false
		miss = append(miss, id)
	}
	if len(miss) == 0 {
		return nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*goredis.StringCmd, len(miss))
	for i, id := range miss {
		cmds[i] = pipe.Get(ctx, id.key)
	}
	_, execErr := pipe.Exec(ctx)
	carried := false
	for _, c := range cmds {
		err := c.Err()
		if unavailable(err) {
			return err
		}
		carried = carried || err != nil
	}
	if execErr != nil && !carried {
		return execErr // the pipeline failed before any command ran
	}
	for i, id := range miss {
		v, err := cmds[i].Bytes()
		if errors.Is(err, goredis.Nil) {
			v, err = nil, nil
		}
		if err != nil {
			id.fail(fmt.Errorf("redis: record %s: %w", id.key, err))
			continue
		}
		if id.cur, err = decodeRecord(v, now); err != nil {
			id.fail(fmt.Errorf("redis: record %s: %w", id.key, err))
		}
	}
	return nil
}

// attachSides reads, in one pipeline per level, the side records the
// identities' operations need (pages, then the large entries in them),
// unless attached already. An identity whose side record is newer than its
// record read the record before another replica's write of both: it reads
// the record again.
func (s *Store) attachSides(ctx context.Context, ids []*identity, now int64) error {
	for range 3 { // pages, then the large entries they name
		more, err := s.attachLevel(ctx, ids, now)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (s *Store) attachLevel(ctx context.Context, ids []*identity, now int64) (bool, error) {
	type want struct {
		id   *identity
		need record.Need
		cmd  *goredis.StringCmd
	}
	var wants []want
	var pipe goredis.Pipeliner
	for _, id := range ids {
		if id.done || id.cur == nil {
			continue
		}
		for _, n := range id.cur.rec.NeedsNamed(id.names, now) {
			if pipe == nil {
				pipe = s.client.Pipeline()
			}
			wants = append(wants, want{id: id, need: n, cmd: pipe.Get(ctx, sideKey(id.key, n.Suffix))})
		}
	}
	if pipe == nil {
		return false, nil
	}
	s.recs.sideReads.Add(int64(len(wants)))
	_, execErr := pipe.Exec(ctx)
	carried := false
	for _, w := range wants {
		err := w.cmd.Err()
		if unavailable(err) {
			return false, err
		}
		carried = carried || err != nil
	}
	if execErr != nil && !carried {
		return false, execErr
	}
	for _, w := range wants {
		if w.id.done || w.id.cur == nil {
			continue
		}
		v, err := w.cmd.Bytes()
		if errors.Is(err, goredis.Nil) {
			v, err = nil, nil
			// A side record is missing: expired, or replaced (each version
			// is a key of its own, deleted once a newer record is stored).
			// Read the record again to tell: computing on it as if expired
			// would only meet a version mismatch at the write.
			if cur := w.id.cur; !w.id.goneSet || cur.version != w.id.gone {
				w.id.gone, w.id.goneSet = cur.version, true
				w.id.cur, w.id.refetch, w.id.applied = nil, true, false
				continue
			}
		}
		var ok bool
		if err == nil {
			ok, err = w.id.cur.rec.Attach(w.need, v, now)
		}
		switch {
		case err != nil:
			w.id.fail(fmt.Errorf("redis: record %s: %w", w.id.key, err))
		case !ok:
			w.id.cur, w.id.refetch, w.id.applied = nil, true, false
		}
	}
	return true, nil
}

// decodeRecord decodes a record as read: nil bytes are an empty record.
func decodeRecord(v []byte, now int64) (*cachedRecord, error) {
	if v == nil {
		return &cachedRecord{rec: &record.Record{}}, nil
	}
	rec, err := record.Decode(v, now)
	if err != nil {
		return nil, err
	}
	ver, _ := record.Version(v)
	return &cachedRecord{exists: true, version: ver, rec: rec, size: rec.Size()}, nil
}
