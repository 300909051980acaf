package memory

import (
	"strings"
	"testing"

	"github.com/iamsentry/iamsentry/state"
)

// TestLastIdentity runs keys through hold, one after another, and checks the hash is always hashKey's and again
// is set exactly when the identity (tenant and identity, by contents)
// is the previous key's, whether or not its strings are the same.
func TestLastIdentity(t *testing.T) {
	id := "principal:arn:aws:iam::111122223333:user/alice"
	steps := []struct {
		name  string
		key   state.Key
		again bool
	}{
		{"first", state.Key{Identity: id, Name: "a"}, false},
		{"the very strings, another name", state.Key{Identity: id, Name: "b"}, true},
		{"a copy of the identity", state.Key{Identity: strings.Clone(id), Name: "a"}, true},
		{"another tenant", state.Key{Tenant: "acme", Identity: id, Name: "a"}, false},
		{"the tenant's copy", state.Key{Tenant: strings.Clone("acme"), Identity: id, Name: "a"}, true},
		{"another identity of one length", state.Key{Tenant: "acme", Identity: id[:len(id)-1] + "x"}, false},
		{"the default tenant again", state.Key{Identity: id[:len(id)-1] + "x"}, false},
		{"empty identity", state.Key{}, false},
		{"empty again", state.Key{Name: "n"}, true},
	}
	st := New(WithSweepInterval(0))
	defer st.Close()
	var x scratch
	var held *shard
	for _, s := range steps {
		k := s.key
		sh, h := st.hold(&k, &x, &held)
		if h != hashKey(k) || sh.again != s.again || sh != st.shard(h) {
			t.Errorf("%s: hash %x, again %v; want %x, %v", s.name, h, sh.again, hashKey(k), s.again)
		}
	}
	held.release()
}
