package iamsentry_test

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// standAlone lists the packages of this module the client may import: the
// generated API and nothing else. A log shipper that embeds the client must
// not compile the detectors, the policy analyzer, the state backends or the
// server to send records.
var standAlone = map[string]bool{
	"gen/iamsentry/v1": true,
}

// TestClientStandsAlone fails when the client, test files aside, pulls in a
// package of this module other than the generated API, and names it with
// the package that imports it.
func TestClientStandsAlone(t *testing.T) {
	module := goList(t, "-m", "-f", "{{.Path}}")[0]
	self := goList(t, "-f", "{{.ImportPath}}", ".")[0]
	importers := map[string][]string{}
	for _, line := range goList(t, "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".") {
		pkg, imports, _ := strings.Cut(line, " ")
		for _, imp := range strings.Fields(imports) {
			importers[imp] = append(importers[imp], pkg)
		}
	}
	for pkg, by := range importers {
		rel, ours := strings.CutPrefix(pkg, module+"/")
		if ours && pkg != self && !standAlone[rel] {
			t.Errorf("client must stand alone: it pulls in %s (imported by %s); only %s/gen/iamsentry/v1 is allowed",
				pkg, strings.Join(by, ", "), module)
		}
	}
	if len(importers) == 0 {
		t.Fatal("go list -deps listed no imports at all; the test would pass on anything")
	}
}

// goList runs `go list` with args in the package's directory and returns
// its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
