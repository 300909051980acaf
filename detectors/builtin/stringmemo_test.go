package builtin

import (
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// TestStringMemoIsItsFunction: whatever the memo holds, collisions and
// concurrent callers included, get(s) is f(s), and it remembers: a
// repeated value is not computed again while its entry stands.
func TestStringMemoIsItsFunction(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	f := func(s string) string {
		mu.Lock()
		calls[s]++
		mu.Unlock()
		return "<" + s + ">"
	}
	m := newStringMemo(f)
	values := make([]string, 4*memoSlots) // more than fit: entries collide
	for i := range values {
		values[i] = "ua-" + strconv.Itoa(i)
	}
	values = append(values, strings.Repeat("x", memoMaxKey+1))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range values {
				s := values[(i+w*97)%len(values)]
				if got, want := m.get(s), "<"+s+">"; got != want {
					t.Errorf("get(%.20q) = %.20q, want %.20q", s, got, want)
				}
			}
		})
	}
	wg.Wait()

	const ua = "aws-cli/2.22.4 Python/3.12.6 Linux/6.5.0-kali3-amd64"
	before := calls[ua]
	for range 3 {
		m.get(ua)
	}
	if n := calls[ua] - before; n != 1 {
		t.Errorf("a value asked three times in a row was computed %d times, want 1", n)
	}
}

// TestRecogniseToolMemoised: the remembered classification is the scan's,
// for tools and for agents that name none, asked repeatedly.
func TestRecogniseToolMemoised(t *testing.T) {
	for _, ua := range []string{
		"aws-cli/2.22.4 Python/3.12.6 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023",
		"Pacu/1.0", "pacuare-client/1.0", "aws-sdk-go-v2/1.30.3 os/linux", "",
	} {
		want := scanTools(ua)
		for range 3 {
			got, ok := recogniseTool(ua)
			if got != want || ok != (want.needle != "") {
				t.Errorf("recogniseTool(%q) = %+v %v, scan says %+v", ua, got, ok, want)
			}
		}
	}
}

// TestUserAgentToolMemoised: the remembered tool name is the one the
// agent's fields give, asked repeatedly.
func TestUserAgentToolMemoised(t *testing.T) {
	for _, ua := range []string{
		"aws-cli/2.22.4 Python/3.12.6", "APN/1.0 HashiCorp/1.0 Terraform/1.9.8", "[Boto3/1.34.0 md/x]", "", "   ",
	} {
		want := firstProductToken(ua)
		for range 3 {
			if got := userAgentTool(ua); got != want {
				t.Errorf("userAgentTool(%q) = %q, its fields say %q", ua, got, want)
			}
		}
	}
}

// TestConsoleUserAgentMemoised: the remembered verdict is the one the
// agent's tokens give, asked repeatedly.
func TestConsoleUserAgentMemoised(t *testing.T) {
	for _, ua := range []string{
		"console.amazonaws.com", "console.ec2.amazonaws.com", "console.ec2.amazonaws.com x/1",
		"aws-internal/3 aws-sdk-java/1.12", "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12]",
		"EC2ConsoleFrontend, aws-internal/3", "aws-cli/2.22.4 Python/3.12.6 Console/1", "Mozilla/5.0", "",
	} {
		want := consoleAgent(ua)
		for range 3 {
			if got := consoleUserAgent(ua); got != want {
				t.Errorf("consoleUserAgent(%q) = %v, its tokens say %v", ua, got, want)
			}
		}
	}
}

// TestStringMemoKeepsTwoThatCollide: two values of one slot are both
// remembered, asked in turn (a direct-mapped memo recomputed them on
// every ask).
func TestStringMemoKeepsTwoThatCollide(t *testing.T) {
	calls := map[string]int{}
	m := newStringMemo(func(s string) string { calls[s]++; return s })
	slot := func(s string) uint64 { return maphash.String(m.seed, s) & (memoSlots - 1) }
	a, b := "ua-a", ""
	for i := 0; b == ""; i++ {
		if c := "ua-" + strconv.Itoa(i); c != a && slot(c) == slot(a) {
			b = c
		}
	}
	for range 5 {
		m.get(a)
		m.get(b)
	}
	if calls[a] != 1 || calls[b] != 1 {
		t.Errorf("two values of one slot asked in turn 5 times were computed %d and %d times, want 1 and 1", calls[a], calls[b])
	}
}
