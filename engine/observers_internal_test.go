package engine

import (
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
)

// FuzzObserverCache asks the cache for calls picked by the input, as
// strings shared between asks (as the Reader hands them out) and as fresh
// copies of the same bytes, under two registries in turn, and checks each
// answer against the registry's own: the addresses are only where the
// cache looks, never what it answers.
func FuzzObserverCache(f *testing.F) {
	all, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		f.Fatal(err)
	}
	some, err := all.WithEnabled(map[string]bool{builtin.PolicyWeakenedID: false, builtin.AccessKeyEnumerationID: false})
	if err != nil {
		f.Fatal(err)
	}
	calls := []detectors.Call{
		{Source: "iam.amazonaws.com", Name: "CreateRole"}, {Source: "iam.amazonaws.com", Name: "ListRoles"},
		{Source: "sts.amazonaws.com", Name: "AssumeRole"}, {Source: "sts.amazonaws.com", Name: "GetCallerIdentity"},
		{Source: "s3.amazonaws.com", Name: "GetObject"}, {Source: "signin.amazonaws.com", Name: "ConsoleLogin"},
		{Source: "cloudtrail.amazonaws.com", Name: "StopLogging"}, {Source: "", Name: ""}, {Source: "iam.amazonaws.com", Name: ""},
	}
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0x41, 0xc2, 0x13})
	f.Fuzz(func(t *testing.T, picks []byte) {
		var c observerCache
		for _, p := range picks {
			call := calls[int(p&0x3f)%len(calls)]
			reg := all
			if p&0x40 != 0 {
				reg = some
			}
			source, name := call.Source, call.Name
			if p&0x80 != 0 { // the same bytes at another address
				source, name = strings.Clone(source), strings.Clone(name)
			}
			got, want := c.of(reg, source, name), reg.Observers(source, name)
			if !slices.Equal(got, want) {
				t.Fatalf("of(%q, %q) = %d detectors, the registry's Observers %d", source, name, len(got), len(want))
			}
		}
	})
}

// TestObserverCacheRewrittenBytes: a call's strings borrowed from a buffer
// that is then rewritten in place with another call of the same length
// (same addresses, other bytes) are answered for what they hold now.
func TestObserverCacheRewrittenBytes(t *testing.T) {
	reg, err := detectors.NewRegistry(builtin.All()...)
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("iam.amazonaws.comCreateAccessKey")
	source := unsafe.String(&buf[0], len("iam.amazonaws.com"))
	name := unsafe.String(&buf[len(source)], len(buf)-len(source))
	var c observerCache
	if got, want := c.of(reg, source, name), reg.Observers("iam.amazonaws.com", "CreateAccessKey"); !slices.Equal(got, want) || len(want) == 0 {
		t.Fatalf("CreateAccessKey: %d detectors, want the registry's %d (and some)", len(got), len(want))
	}
	copy(buf, "sts.amazonaws.comGetSessionToken") // same lengths: 17 and 15 bytes
	want := reg.Observers("sts.amazonaws.com", "GetSessionToken")
	if got := c.of(reg, source, name); !slices.Equal(got, want) {
		t.Fatalf("after the bytes were rewritten: %d detectors, want the registry's %d", len(got), len(want))
	}
}
