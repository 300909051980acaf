package builtin_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// reconAsBob makes r a call by the IAM user bob, keeping its access key.
func reconAsBob(r dt.Rec) dt.Rec {
	return r.With("userIdentity.arn", "arn:aws:iam::111122223333:user/bob").
		With("userIdentity.userName", "bob").With("userIdentity.principalId", "AIDAEXAMPLEBOB00001")
}

// sameCaller is action at event time at, by the caller of the raw record.
func sameCaller(t *testing.T, raw []byte, action string, at time.Time) dt.Rec {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	svc, name, _ := strings.Cut(action, ":")
	m["eventSource"], m["eventName"] = svc+".amazonaws.com", name
	m["eventTime"], m["eventID"] = at.UTC().Format(time.RFC3339), dt.FreshID()
	m["requestParameters"], m["responseElements"] = nil, nil
	delete(m, "errorCode")
	delete(m, "errorMessage")
	return dt.Rec(m)
}

// reconIncidents names the caller-identity-recon incidents of vs: the
// principal and the window of the probe, sorted, each once (a later call
// may raise an incident again at a higher severity).
func reconIncidents(vs []engine.Verdict) []string {
	var out []string
	for _, f := range reconTop(vs) {
		out = append(out, f.PrincipalARN+" "+f.Evidence["window_start"])
	}
	slices.Sort(out)
	return out
}

// reconTop returns, per caller-identity-recon incident of vs, its first
// finding at the highest severity it reached, in the order incidents were
// first raised.
func reconTop(vs []engine.Verdict) []detectors.Finding {
	var out []detectors.Finding
	at := map[string]int{}
	for _, f := range dt.Only(builtin.CallerIdentityReconID, vs) {
		i, ok := at[f.Incident]
		switch {
		case !ok:
			at[f.Incident] = len(out)
			out = append(out, f)
		case f.Severity > out[i].Severity:
			out[i] = f
		}
	}
	return out
}

// reconSeverities renders the incidents of vs with their highest
// severity, sorted.
func reconSeverities(vs []engine.Verdict) []string {
	var out []string
	for _, f := range reconTop(vs) {
		out = append(out, f.PrincipalARN+" "+f.Evidence["window_start"]+" @"+f.Severity.String())
	}
	slices.Sort(out)
	return out
}
