package builtin

import (
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"
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

// TestStringMemoAddressIsOnlyAHint: the bytes at an address a memo last
// saw may be another string's by the next ask (collected and reused). The
// test rewrites one buffer under strings made over it, as a reused
// address would look, and get must still answer f of what the bytes hold
// now; a string whose bytes moved is answered from its entry, not
// computed again.
func TestStringMemoAddressIsOnlyAHint(t *testing.T) {
	calls := map[string]int{}
	// The test's strings alias buf, which it rewrites: f keeps copies.
	m := newStringMemo(func(s string) string { calls[strings.Clone(s)]++; return "<" + s + ">" })
	buf := []byte("aws-cli/2.22.4")
	over := func() string { return unsafe.String(&buf[0], len(buf)) }
	for _, tc := range []struct{ bytes, want string }{
		{"aws-cli/2.22.4", "<aws-cli/2.22.4>"},
		{"aws-cli/2.22.4", "<aws-cli/2.22.4>"},
		{"Pacu/1.0.0000", "<Pacu/1.0.0000>"}, // other bytes at the address of the ask before
		{"aws-cli/2.22.4", "<aws-cli/2.22.4>"},
		{"aws-cli/2.22.5", "<aws-cli/2.22.5>"}, // one byte differs
	} {
		buf = append(buf[:0], tc.bytes...)
		if got := m.get(over()); got != tc.want {
			t.Errorf("get over bytes %q = %q, want %q", tc.bytes, got, tc.want)
		}
	}
	moved := strings.Clone("aws-cli/2.22.4")
	if got := m.get(moved); got != "<aws-cli/2.22.4>" {
		t.Errorf("get of a copy at another address = %q", got)
	}
	if calls["aws-cli/2.22.4"] != 1 || calls["Pacu/1.0.0000"] != 1 || calls["aws-cli/2.22.5"] != 1 {
		t.Errorf("values computed %v times, want each once", calls)
	}
}

// FuzzStringMemo holds a memo to its function under asks at addresses
// whose bytes change between asks (see TestStringMemoAddressIsOnlyAHint):
// each input byte pair writes a byte of a small buffer or asks for one of
// its substrings.
func FuzzStringMemo(f *testing.F) {
	f.Add([]byte("\x00a\x01b\x80\x13\x00c\x80\x13\x81\x02"))
	f.Add([]byte("\x80\x00\x80\x00\x03z\x80\x00"))
	f.Fuzz(func(t *testing.T, ops []byte) {
		m := newStringMemo(func(s string) string { return "<" + s + ">" })
		buf := []byte("abcdefgh")
		for i := 0; i+1 < len(ops); i += 2 {
			op, arg := ops[i], ops[i+1]
			if op < 0x80 {
				buf[int(op)%len(buf)] = arg
				continue
			}
			from := int(arg>>4) % len(buf)
			to := from + int(arg&15)%(len(buf)-from+1)
			s := unsafe.String(&buf[0], len(buf))[from:to]
			want := "<" + string(buf[from:to]) + ">"
			if got := m.get(s); got != want {
				t.Fatalf("op %d: get(%q) = %q, want %q", i/2, buf[from:to], got, want)
			}
		}
	})
}
