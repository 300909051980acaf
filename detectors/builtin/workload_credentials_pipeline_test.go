package builtin_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// pipelineGeo is wlGeo plus GitHub's hosted runners on Azure (a hosting
// ASN in the default list).
var pipelineGeo = func() fakeGeo {
	g := fakeGeo{"20.0.0.0/11": {Country: "US", ASN: 8075, ASNOrg: "MICROSOFT-CORP-MSN-AS-BLOCK"}}
	for p, loc := range wlGeo {
		g[p] = loc
	}
	return g
}()

const ghaSubject = "repo:example-org/service-01:ref:refs/heads/main"

// ghaSignIn is a GitHub Actions run exchanging its OIDC token for the
// gha-deploy role from runner address src.
func ghaSignIn(at time.Time, src string) dt.Rec {
	provider := "arn:aws:iam::" + wlAcct + ":oidc-provider/token.actions.githubusercontent.com"
	return dt.Base("sts.amazonaws.com", "AssumeRoleWithWebIdentity", at).
		With("userIdentity", map[string]any{"type": "WebIdentityUser", "principalId": provider + ":sts.amazonaws.com:" + ghaSubject,
			"userName": ghaSubject, "identityProvider": provider}).
		With("sourceIPAddress", src).
		With("requestParameters", map[string]any{"roleArn": "arn:aws:iam::" + wlAcct + ":role/gha-deploy", "roleSessionName": "GitHubActions"})
}

// ghaUse is a call by the run's session, with key, from src.
func ghaUse(at time.Time, key, src string) dt.Rec {
	return session(at, "gha-deploy", "GitHubActions", key, src)
}

// ghaRuns are a pipeline's runs on days from..to−1, each signing in and
// calling from one runner address.
func ghaRuns(from, to int) []dt.Rec {
	var out []dt.Rec
	for d := from; d < to; d++ {
		at := t0.Add(time.Duration(d) * 24 * time.Hour)
		src := "20.1.2." + string(rune('0'+d))
		out = append(out, ghaSignIn(at, src), ghaUse(at.Add(5*time.Second), "ASIAGHARUN000000000"+string(rune('0'+d)), src))
	}
	return out
}

// runPipelineScenarios: a pipeline's session used from a network none of
// its sign-ins came from is HIGH (the ci-token-theft attack of the
// realistic corpus raised no way-in finding: GitHub's runners are not on
// AWS, so the role was no workload's); quiet twins: the pipeline's own
// runs, and a role nobody signs in to by web identity.
func runPipelineScenarios(t *testing.T, newStore newStoreFunc) {
	trusted := &detectors.Settings{GeoIP: pipelineGeo, TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("20.0.0.0/11")}}
	stolen := ghaUse(t0.Add(2*24*time.Hour+time.Hour), "ASIAGHASTOLEN0000001", "192.0.2.50")
	for _, tc := range []struct {
		name   string
		s      *detectors.Settings
		stream []dt.Rec
		want   int
	}{
		{"a run's token replayed from a VPS", &detectors.Settings{GeoIP: pipelineGeo}, append(ghaRuns(0, 2), stolen), 1},
		{"runners in trusted_networks, the token replayed from a home ISP", trusted, append(ghaRuns(0, 2), ghaUse(t0.Add(50*time.Hour), "ASIAGHASTOLEN0000002", "198.51.100.9")), 1},
		{"the replay scored before the day's own run", &detectors.Settings{GeoIP: pipelineGeo}, cat(ghaRuns(0, 2), []dt.Rec{stolen}, ghaRuns(2, 3)), 1},
		{"quiet: the pipeline's own runs", &detectors.Settings{GeoIP: pipelineGeo}, ghaRuns(0, 5), 0},
		{"quiet: a role nobody signs in to by web identity", &detectors.Settings{GeoIP: pipelineGeo}, []dt.Rec{session(t0, "reports", "cli-1", "ASIAREPORTS00000001", "192.0.2.50")}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newWorkload(t, tc.s))
			fs := dt.Only(builtin.WorkloadCredentialsID, h.Stream(tc.stream...))
			if len(fs) != tc.want {
				t.Fatalf("%d findings, want %d: %v", len(fs), tc.want, fs)
			}
			for _, f := range fs {
				if f.Severity != detectors.SeverityHigh || f.Evidence["workload"] != "pipeline" {
					t.Errorf("%s %q (workload %q), want HIGH naming the pipeline", f.Severity, f.Explanation, f.Evidence["workload"])
				}
			}
		})
	}
}

func TestWorkloadCredentialsPipeline(t *testing.T) { runPipelineScenarios(t, memoryStore) }

func TestWorkloadCredentialsPipelineOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runPipelineScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}
