package trail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MaxObjectSize bounds one delivery file. CloudTrail's are at most tens of
// MB; a larger object is an error, not a memory hazard.
const MaxObjectSize = 512 << 20

// Options are how Read fetches.
type Options struct {
	// Concurrency is how many objects are fetched at once; their bodies
	// are what Read holds in memory (at most Concurrency+1 objects).
	Concurrency int
	// Checkpoint, when set, records each object handed on, so a run
	// started again with the same checkpoint goes on after it.
	Checkpoint *Checkpoint
}

// Read walks loc like Walk and hands each object's body to fn, in key
// order, fetching up to opts.Concurrency objects ahead. fn's reader is
// valid until fn returns. An error of fn stops the read; an object fn
// returned without error is recorded in the checkpoint before the next is
// handed on.
func Read(ctx context.Context, api API, loc Location, f Filter, opts Options, fn func(o Object, body io.Reader) error) error {
	n := max(opts.Concurrency, 1)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	type slot struct {
		o    Object
		body chan []byte
		err  chan error
	}
	ordered := make(chan *slot, n)
	jobs := make(chan *slot)
	after := ""
	if opts.Checkpoint != nil {
		after = opts.Checkpoint.LastKey
	}
	walkErr := make(chan error, 1)
	go func() {
		defer close(ordered)
		defer close(jobs)
		walkErr <- Walk(ctx, api, loc, f, after, func(o Object) error {
			s := &slot{o: o, body: make(chan []byte, 1), err: make(chan error, 1)}
			select {
			case ordered <- s:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			select {
			case jobs <- s:
			case <-ctx.Done():
				return context.Cause(ctx)
			}
			return nil
		})
	}()
	for range n {
		go func() {
			for s := range jobs {
				b, err := get(ctx, api, loc.Bucket, s.o)
				if err != nil {
					s.err <- err
					continue
				}
				s.body <- b
			}
		}()
	}
	var err error
	for s := range ordered {
		if err != nil {
			continue // drain, so the walker and the workers end
		}
		select {
		case b := <-s.body:
			err = fn(s.o, bytes.NewReader(b))
			if err == nil && opts.Checkpoint != nil {
				err = opts.Checkpoint.Mark(s.o)
			}
		case err = <-s.err:
		case <-ctx.Done():
			err = context.Cause(ctx)
		}
		if err != nil {
			cancel(err)
		}
	}
	if err != nil {
		return err
	}
	if werr := <-walkErr; werr != nil {
		return werr
	}
	return ctx.Err()
}

// get fetches one object whole.
func get(ctx context.Context, api API, bucket string, o Object) ([]byte, error) {
	if o.Size > MaxObjectSize {
		return nil, fmt.Errorf("s3://%s/%s: %d bytes, larger than the %d MiB a delivery file can be", bucket, o.Key, o.Size, MaxObjectSize>>20)
	}
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &o.Key})
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: get: %w", bucket, o.Key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, MaxObjectSize+1))
	if err != nil {
		return nil, fmt.Errorf("s3://%s/%s: read: %w", bucket, o.Key, err)
	}
	if len(b) > MaxObjectSize {
		return nil, fmt.Errorf("s3://%s/%s: larger than %d MiB", bucket, o.Key, MaxObjectSize>>20)
	}
	return b, nil
}

// Checkpoint is where a read of one location got to: the last object
// handed on, in key order. It is a small JSON file rewritten (atomically)
// after each object; a run with the same file skips every key up to it.
type Checkpoint struct {
	Location string    `json:"location"`
	Since    time.Time `json:"since,omitzero"`
	Until    time.Time `json:"until,omitzero"`
	LastKey  string    `json:"last_key"`
	Objects  int64     `json:"objects"`
	Bytes    int64     `json:"bytes"`
	Updated  time.Time `json:"updated"`

	path string
}

// OpenCheckpoint reads the checkpoint at path, or starts one when the file
// does not exist. A checkpoint written for another location or time range
// is refused: going on from it would skip the wrong objects.
func OpenCheckpoint(path string, loc Location, f Filter) (*Checkpoint, error) {
	c := &Checkpoint{Location: loc.String(), Since: f.Since, Until: f.Until, path: path}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	var old Checkpoint
	if err := json.Unmarshal(data, &old); err != nil {
		return nil, fmt.Errorf("checkpoint %s: not a checkpoint file: %w", path, err)
	}
	if old.Location != c.Location || !old.Since.Equal(c.Since) || !old.Until.Equal(c.Until) {
		return nil, fmt.Errorf("checkpoint %s is of %s (since %s, until %s), not of this read; remove it or name another file",
			path, old.Location, timeOrNone(old.Since), timeOrNone(old.Until))
	}
	old.path = path
	return &old, nil
}

func timeOrNone(t time.Time) string {
	if t.IsZero() {
		return "unbounded"
	}
	return t.Format(time.RFC3339)
}

// Mark records o as handed on.
func (c *Checkpoint) Mark(o Object) error {
	c.LastKey, c.Objects, c.Bytes, c.Updated = o.Key, c.Objects+1, c.Bytes+o.Size, time.Now().UTC()
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(c.path), "."+filepath.Base(c.path)+".*")
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), c.path); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}

// Path is the file the checkpoint is kept in.
func (c *Checkpoint) Path() string { return c.path }

// Describe says where a checkpoint resumes, for the start of a run.
func (c *Checkpoint) Describe() string {
	if c.LastKey == "" {
		return "checkpoint " + c.path + ": starting from the beginning"
	}
	return fmt.Sprintf("checkpoint %s: %d objects (%d bytes) read before; going on after %s", c.path, c.Objects, c.Bytes, c.LastKey)
}
