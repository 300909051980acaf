package cloudtrail

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
)

// sameAsOld fails unless ParseInto gives exactly what the jsontext
// parser it replaced gives for data (oldParseInto, the oracle): the same
// Record or the same error, and on an error the same untouched Record. It
// then overwrites the input to show the Record keeps none of it.
func sameAsOld(t *testing.T, data []byte) {
	t.Helper()
	prior := Record{EventID: "prior", UserAgent: "kept on error"}
	want, got := prior, prior
	wantErr := oldParseInto(&want, data, Options{})
	in := bytes.Clone(data)
	gotErr := ParseInto(&got, in, Options{})
	for i := range in {
		in[i] = 'x'
	}
	if !reflect.DeepEqual(gotErr, wantErr) {
		t.Fatalf("ParseInto must reject as the jsontext parser did: %q\n got  %#v\n want %#v", data, gotErr, wantErr)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseInto must decode as the jsontext parser did: %q\n got  %+v\n want %+v", data, got, want)
	}
}

// sharedRecords are the records of the shared CloudTrail corpus
// ($IAMSENTRY_SHARED_DATA, else ../shared/data next to the repository
// root or to its worktree), as the Reader splits them, and the files.
var sharedRecords = sync.OnceValue(func() [][]byte {
	var out [][]byte
	dir := os.Getenv("IAMSENTRY_SHARED_DATA")
	for _, d := range []string{filepath.Join("..", "..", "shared", "data"), filepath.Join("..", "..", "..", "shared", "data")} {
		if _, err := os.Stat(d); dir == "" && err == nil {
			dir = d
		}
	}
	if dir == "" {
		return nil
	}
	filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() || !strings.Contains(e.Name(), ".json") {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, data)
		r := NewReader(bytes.NewReader(data), Options{})
		for {
			item, err := r.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, bytes.Clone(item.Raw))
		}
	})
	return out
})

// realisticRecords are two days of internal/realcorpus's account.
var realisticRecords = sync.OnceValue(func() [][]byte {
	c := realcorpus.Generate(realcorpus.Options{Seed: 1, Days: 2})
	out := make([][]byte, len(c.Records))
	for i, r := range c.Records {
		out[i] = r.JSON
	}
	return out
})

// oracleSeeds are the edge cases, the testdata files and their lines, the
// shared corpus and every 16th realistic record.
func oracleSeeds() [][]byte {
	var out [][]byte
	for _, in := range stdEdgeCases {
		out = append(out, []byte(in))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json*"))
	for _, name := range files {
		data, _ := os.ReadFile(name)
		out = append(out, data)
		for _, line := range bytes.Split(data, []byte("\n")) {
			out = append(out, line)
		}
	}
	out = append(out, sharedRecords()...)
	for i, r := range realisticRecords() {
		if i%16 == 0 {
			out = append(out, r)
		}
	}
	return out
}

func TestParseMatchesOld(t *testing.T) {
	racetest.SkipLong(t)
	seeds := oracleSeeds()
	if len(sharedRecords()) == 0 {
		t.Log("shared CloudTrail corpus not found (set IAMSENTRY_SHARED_DATA): edge cases and testdata only")
	}
	for _, in := range seeds {
		sameAsOld(t, in)
	}
	for _, in := range realisticRecords() {
		sameAsOld(t, in)
	}
}

// FuzzParseMatchesOld checks that the byte decoder is invisible: for any
// input ParseInto returns exactly what the jsontext parser it replaced
// returned, record or error, field for field and word for word.
func FuzzParseMatchesOld(f *testing.F) {
	for _, in := range oracleSeeds() {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sameAsOld(t, data)
	})
}

// The byte decoder must take realistic records itself: declining them
// would still be correct, but as slow as encoding/json.
func TestFastPathTakesRealisticRecords(t *testing.T) {
	d := new(decoder)
	for i, in := range realisticRecords() {
		if err := d.parse(in, new(Record)); err != nil {
			t.Fatalf("realistic record %d: the fast path must take it, got %v: %s", i, err, in)
		}
	}
}
