// Package trailtest serves an S3-compatible API on loopback for tests
// (gofakes3, an in-memory S3 implementation that speaks the REST API the
// AWS SDK uses), and builds organisation-trail trees of gzip delivery
// files from the repository's real CloudTrail test records.
package trailtest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Server is an S3-compatible server on a loopback port.
type Server struct {
	Endpoint string // http://127.0.0.1:port
	backend  *s3mem.Backend
}

// Start starts a server for the test and sets the environment the AWS SDK
// reads so clients reach it without real credentials or instance metadata.
func Start(t testing.TB) *Server {
	t.Helper()
	backend := s3mem.New()
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return &Server{Endpoint: srv.URL, backend: backend}
}

// Put stores objects in bucket, creating it first when needed.
func (s *Server) Put(t testing.TB, bucket string, objects map[string][]byte) {
	t.Helper()
	if ok, _ := s.backend.BucketExists(bucket); !ok {
		if err := s.backend.CreateBucket(bucket); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range slices.Sorted(func(yield func(string) bool) {
		for k := range objects {
			if !yield(k) {
				return
			}
		}
	}) {
		data := objects[key]
		if _, err := s.backend.PutObject(bucket, key, nil, bytes.NewReader(data), int64(len(data)), nil); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
}

// Org is the organisation id of OrgTrail's tree.
const Org = "o-a1b2c3d4e5"

// OrgTrail builds the keys and gzip bodies of an organisation trail from
// the repository's CloudTrail test files (examples/ and the Stratus Red
// Team detonations in detectors/builtin/testdata/stratus, whose README
// gives their provenance): each file becomes one delivery file, spread
// over two accounts, two regions and two days, beside a digest file, an
// Insights file and a folder marker that are not records. It returns the
// record objects' keys in key order too.
func OrgTrail(t testing.TB) (objects map[string][]byte, recordKeys []string) {
	t.Helper()
	root := repoRoot(t)
	var files []string
	for _, glob := range []string{"examples/*/*.json", "examples/*/*.jsonl", "detectors/builtin/testdata/stratus/*.json"} {
		m, err := filepath.Glob(filepath.Join(root, glob))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	if len(files) < 8 {
		t.Fatalf("trailtest: only %d CloudTrail files found under %s", len(files), root)
	}
	objects = map[string][]byte{}
	accounts := []string{"111122223333", "444455556666"}
	regions := []string{"eu-west-1", "us-east-1"}
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		acct, region, day := accounts[i%2], regions[i/2%2], 29+i/4%2
		key := fmt.Sprintf("AWSLogs/%s/%s/CloudTrail/%s/2026/11/%02d/%s_CloudTrail_%s_202611%02dT%02d%02dZ_%08x.json.gz",
			Org, acct, region, day, acct, region, day, i%24, (i*7)%60, i*2654435761)
		objects[key] = gz(t, data)
		recordKeys = append(recordKeys, key)
	}
	objects["AWSLogs/"+Org+"/111122223333/CloudTrail-Digest/us-east-1/2026/11/29/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20261129T0100Z.json.gz"] = gz(t, []byte(`{"digestStartTime":"x"}`))
	objects["AWSLogs/"+Org+"/111122223333/CloudTrail-Insight/us-east-1/2026/11/29/111122223333_CloudTrail-Insight_us-east-1_20261129T0100Z_x.json.gz"] = gz(t, []byte(`{"Records":[]}`))
	objects["AWSLogs/"+Org+"/111122223333/CloudTrail/us-east-1/2026/11/29/"] = nil
	slices.Sort(recordKeys)
	return objects, recordKeys
}

// WriteTree writes objects as files under dir (folder markers become
// folders), for comparing a read from S3 with one from disk.
func WriteTree(t testing.TB, dir string, objects map[string][]byte) {
	t.Helper()
	for key, data := range objects {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if key[len(key)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func gz(t testing.TB, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func repoRoot(t testing.TB) string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("trailtest: no caller")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
