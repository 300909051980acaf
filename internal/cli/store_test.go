package cli_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/internal/cli"
	"github.com/iamsentry/iamsentry/internal/redistest"
)

// syncBuffer is a bytes.Buffer that serve's goroutines may write while the
// test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveFor runs serve until it returns or d has passed.
func serveFor(t *testing.T, d time.Duration, args ...string) (code int, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var out, errb syncBuffer
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-listen", "", "--log-format", "text"}, args...)
	code = cli.Main(ctx, args, cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errb})
	return code, errb.String()
}

// An evicting Redis forgets detection state under an identity flood (issue
// 16, defect 3: volatile-ttl evicted 720k keys and redelivered attaches
// alerted again). serve refuses to start on one and says why, unless the
// setting allows it, which it then warns about.
func TestServeRefusesEvictingRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	c := srv.Client()
	for _, policy := range []string{"volatile-ttl", "allkeys-lru"} {
		t.Run(policy, func(t *testing.T) {
			if err := c.ConfigSet(context.Background(), "maxmemory-policy", policy).Err(); err != nil {
				t.Fatal(err)
			}
			code, errs := serveFor(t, 20*time.Second, "--redis", srv.URL())
			if code != cli.ExitError || !strings.Contains(errs, "maxmemory-policy "+policy) || !strings.Contains(errs, "noeviction") {
				t.Errorf("serve on %s: exit %d; want %d and an error naming the policy and noeviction\n%s", policy, code, cli.ExitError, errs)
			}
			code, errs = serveFor(t, 3*time.Second, "--redis", srv.URL()+"?allow_eviction=true")
			if code != cli.ExitOK || !strings.Contains(errs, "EVICTS KEYS") || !strings.Contains(errs, "maxmemory_policy="+policy) {
				t.Errorf("serve with allow_eviction=true on %s: exit %d; want %d and a warning\n%s", policy, code, cli.ExitOK, errs)
			}
		})
	}
	// Managed Redis may refuse CONFIG: serve warns and goes on.
	if err := c.ConfigSet(context.Background(), "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Do(context.Background(), "ACL", "SETUSER", "app", "on", ">pw", "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	code, errs := serveFor(t, 3*time.Second, "--redis", "redis://app:pw@"+srv.Addr())
	if code != cli.ExitOK || !strings.Contains(errs, "maxmemory-policy unknown") {
		t.Errorf("serve with CONFIG refused: exit %d; want %d and a warning\n%s", code, cli.ExitOK, errs)
	}
}

func TestScanStateBudget(t *testing.T) {
	in := writeFile(t, "in.json", `{"Records":[`+createRole+`]}`)
	for _, c := range []struct {
		budget, want string
	}{
		{"64MiB", "memory budget 64 MiB"},
		{"1073741824", "memory budget 1024 MiB"},
		{"0", "no memory budget"},
	} {
		code, _, stderr := runCLI(t, "", "scan", "--state-budget", c.budget, in)
		if code != 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("scan --state-budget %s: exit %d, stderr %q; want 0 and %q", c.budget, code, stderr, c.want)
		}
	}
	for _, bad := range []string{"-1", "1GB", "lots", "99999999999GiB"} {
		if code, _, _ := runCLI(t, "", "scan", "--state-budget", bad, in); code != 2 {
			t.Errorf("scan --state-budget %s: exit %d, want 2 (usage)", bad, code)
		}
	}
}
