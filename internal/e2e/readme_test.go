package e2e_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeExpectations says what each README grpcurl example must print,
// keyed by a fragment of the example's command. Every grpcurl example in
// the README must match exactly one key, so a new example cannot go
// untested.
var readmeExpectations = map[string][]string{
	" list":                          {"iamsentry.v1.DetectionService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"},
	"describe iamsentry.v1":          {"rpc Score ( stream .iamsentry.v1.ScoreRequest ) returns ( stream .iamsentry.v1.ScoreResponse )", "rpc ScoreBatch", "rpc ListDetectors"},
	"grpc.health.v1.Health":          {`"status": "SERVING"`},
	"DetectionService/ListDetectors": {`"id": "admin-policy-attached"`, `"enabled": true`, `"T1098"`},
	"DetectionService/ScoreBatch": {`"outcome": "OUTCOME_ALERT"`, `"detectorId": "admin-policy-attached"`, `"severity": "SEVERITY_HIGH"`,
		`"eventId": "3f1c0a52-8e5b-4f47-9a43-5b0c2f6c1d11"`, `"target_name": "backdoor"`, `"T1098"`},
	"DetectionService/Score <": {`"outcome": "OUTCOME_CLEAN"`, `"outcome": "OUTCOME_ALERT"`, `"outcome": "OUTCOME_INVALID"`,
		`"sequence": "2"`, "record is not JSON"},
}

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

// readmeExamples returns the README's sh blocks that run grpcurl.
func readmeExamples(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range shBlock.FindAllStringSubmatch(string(readme), -1) {
		if strings.HasPrefix(m[1], "grpcurl ") {
			out = append(out, m[1])
		}
	}
	return out
}

func TestReadmeGrpcurlExamples(t *testing.T) {
	skipShort(t)
	examples := readmeExamples(t)
	if len(examples) < len(readmeExpectations) {
		t.Fatalf("README has %d grpcurl examples; the test expects %d", len(examples), len(readmeExpectations))
	}
	_, addr := startMakeRun(t)
	for _, ex := range examples {
		firstLine, _, _ := strings.Cut(ex, "\n")
		t.Run(firstLine, func(t *testing.T) {
			var want []string
			matched := 0
			for key, w := range readmeExpectations {
				if strings.Contains(firstLine, key) {
					want, matched = w, matched+1
				}
			}
			if matched != 1 {
				t.Fatalf("README example %q matches %d expectation keys; give it exactly one", firstLine, matched)
			}
			if !strings.Contains(ex, "localhost:50051") {
				t.Fatalf("README example does not use localhost:50051: %q", firstLine)
			}
			out, err := run(t, strings.ReplaceAll(ex, "localhost:50051", addr))
			if err != nil {
				t.Fatalf("README example failed: %v\n%s", err, out)
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("README example output lacks %q:\n%s", w, out)
				}
			}
		})
	}
}
