package cloudtrail

import "testing"

// flatInputs are objects scanFlat takes and ones it must leave to
// scanValueMax: nested values, spaces, broken numbers, literals and
// strings, and objects cut short.
var flatInputs = []string{
	`{}`, `{"a":"b"}`, `{"a":"b","c":"d"}`, `{"a":1,"b":-2.5e+3,"c":true,"d":false,"e":null}`,
	`{"cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sts.amazonaws.com","tlsVersion":"TLSv1.3"}`,
	`{"a":"\u00e9\n","b\"":"c"}`, `{"a":{"b":"c"}}`, `{"a":["b"]}`, `{ "a":"b"}`, `{"a" :"b"}`, `{"a": "b"}`,
	`{"a":"b" }`, `{"a":"b",}`, `{,}`, `{"a"}`, `{"a":}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1x}`,
	`{"a":tru}`, `{"a":truex}`, `{"a":nul}`, `{"a":fals}`, `{"a":falsee}`, `{"a":"b\x01"}`, `{"a":"b\q"}`,
	`{"a":"b"`, `{"a":"b",`, `{"a":`, `{"a`, `{`, `{"a":"b"}}`, `{"a":"b"]`, `{"a":"b"x`, `{"a":true`,
	`{"a":false}`, `{"a":null,"b":"\ud800"}`, "{\"a\":\"\xff\"}",
}

// checkFlat holds scanFlat to scanValueMax: an object it takes is one
// scanValueMax takes, ending at the same byte; literalAt likewise.
func checkFlat(t *testing.T, b []byte) {
	t.Helper()
	if end, ok := scanFlat(b, 0); ok {
		want, res := scanValueMax(b, 0, true, 1)
		if res != scanOK || end != want {
			t.Fatalf("scanFlat(%q) = %d, but scanValueMax says %d (%v)", b, end, want, res)
		}
		if _, res := scanValueMax(b, 0, true, 0); res == scanOK {
			t.Fatalf("scanValueMax(%q) took an object at depth 0", b)
		}
	}
	for i := range b {
		if n := literalAt(b, i); n > 0 {
			if end, res := scanValueMax(b, i, true, 0); res != scanOK || end != i+n {
				t.Fatalf("literalAt(%q, %d) = %d, but scanValueMax says %d (%v)", b, i, n, end-i, res)
			}
		}
	}
}

func TestScanFlatMatchesScanValue(t *testing.T) {
	taken := 0
	for _, in := range flatInputs {
		checkFlat(t, []byte(in))
		if _, ok := scanFlat([]byte(in), 0); ok {
			taken++
		}
	}
	// The fast path must take the flat objects themselves: declining them
	// would be correct but no faster.
	if taken < 8 {
		t.Fatalf("scanFlat took %d of the flat objects; it must take 8", taken)
	}
}

func FuzzScanFlat(f *testing.F) {
	for _, in := range flatInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkFlat(t, append([]byte{'{'}, data...))
	})
}
