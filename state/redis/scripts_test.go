package redis

import (
	"regexp"
	"strconv"
	"testing"
)

// TestScriptsDeclareTheirKeys holds each script's declared keys to the
// KEYS its Lua reads: a key used but not declared would be missing from
// the call (and from Cluster's slot check), a key declared but not used
// would be sent for nothing. The first key must be the operation's own:
// errors name it and NOSCRIPT recovery orders calls by it.
func TestScriptsDeclareTheirKeys(t *testing.T) {
	used := regexp.MustCompile(`KEYS\[(\d+)\]`)
	for _, sc := range allScripts {
		refs := map[int]bool{}
		for _, m := range used.FindAllStringSubmatch(sc.src, -1) {
			i, _ := strconv.Atoi(m[1])
			refs[i] = true
		}
		for i := 1; i <= max(len(sc.keys), len(refs)); i++ {
			if declared := i <= len(sc.keys); refs[i] != declared {
				t.Errorf("script %s: KEYS[%d] used %t, declared %t (keys %q)", sc.name, i, refs[i], declared, sc.keys)
			}
		}
		if len(sc.keys) == 0 || sc.keys[0] != ownKey {
			t.Errorf("script %s: keys %q, want the operation's own key first", sc.name, sc.keys)
		}
	}
}
