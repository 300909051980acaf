package redis

import (
	"regexp"
	"strconv"
	"testing"
)

// TestGroupScriptAgreesWithGo holds the group script's table of argument
// counts and its operations to opArgs, which the Go side encodes by: a
// count that differs would shift every later operation of a group onto
// the wrong arguments.
func TestGroupScriptAgreesWithGo(t *testing.T) {
	width := regexp.MustCompile(`local width = \{([^}]*)\}`).FindStringSubmatch(groupScript.src)
	if width == nil {
		t.Fatal("group script: no width table")
	}
	luaArgs := map[string]int{}
	for _, m := range regexp.MustCompile(`(\w+) = (\d+)`).FindAllStringSubmatch(width[1], -1) {
		n, _ := strconv.Atoi(m[2])
		luaArgs[m[1]] = n
	}
	defined := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^ops\.(\w+) = function`).FindAllStringSubmatch(groupScript.src, -1) {
		defined[m[1]] = true
	}
	for code, n := range opArgs {
		if luaArgs[code] != n {
			t.Errorf("op %s: Lua takes %d arguments, Go sends %d", code, luaArgs[code], n)
		}
		if !defined[code] {
			t.Errorf("op %s: no ops.%s in the group script", code, code)
		}
	}
	if len(luaArgs) != len(opArgs) || len(defined) != len(opArgs) {
		t.Errorf("group script knows ops %v (width) and %v (functions), Go %v", luaArgs, defined, opArgs)
	}
}
