package config_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestOpensNothing checks that config stays a schema with its validation:
// it must not depend on the Redis store or the GeoIP reader it names, which
// the program that assembles the process opens.
func TestOpensNothing(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{"/state/redis", "/geoip", "github.com/redis/", "maxminddb", "/server"} {
			if strings.Contains(dep, banned) {
				t.Errorf("config depends on %s", dep)
			}
		}
	}
}
