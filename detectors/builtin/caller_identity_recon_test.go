package builtin_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/state"
)

// Streams here are generated (detectortest builders) unless they come from
// testdata.

func newRecon(t testing.TB, src string) detectors.Detector {
	t.Helper()
	d, err := builtin.NewCallerIdentityRecon(options(src))
	if err != nil {
		t.Fatalf("options %q: %v", src, err)
	}
	return d
}

func gci(ak string, at time.Time) dt.Rec { return keyCall(ak, "sts:GetCallerIdentity", at) }

func TestCallerIdentityReconContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:  func() detectors.Detector { return newRecon(t, "") },
		Loud: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(2*time.Minute))},
		Quiet: []dt.Rec{
			gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(3*time.Hour)),
			reconAsBob(gci(keyB, w0.Add(5*time.Hour))), keyCall(keyA, "s3:ListBuckets", w0.Add(5*time.Hour+time.Minute)),
			reconAsBob(keyCall(keyB, "s3:GetObject", w0.Add(5*time.Hour+time.Minute))),
		},
	})
}

func TestCallerIdentityRecon(t *testing.T) { reconScenarios(t, newMemory) }

func reconScenarios(t *testing.T, newStore newStoreFunc) {
	tests := []struct {
		name     string
		opts     string
		stream   []dt.Rec
		want     int                // incidents
		sev      detectors.Severity // highest of every incident, when set
		attachTo int                // index in stream of the first finding's record, when want > 0
	}{
		// A principal never seen before: its first look around is LOW (a new
		// hire, a new pipeline, a new deployment's first day).
		{name: "GetCallerIdentity then ListBuckets", want: 1, sev: detectors.SeverityLow, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(2*time.Minute))}},
		// A principal busy for hours that never probed: the stolen key
		// checking whose it is.
		{name: "an active principal's first probe is MEDIUM", want: 1, sev: detectors.SeverityMedium, attachTo: 2,
			stream: []dt.Rec{keyCall(keyA, "ec2:DescribeInstances", w0.Add(-3*time.Hour)), gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(2*time.Minute))}},
		{name: "ListBuckets then GetCallerIdentity (event time)", want: 1, attachTo: 1,
			stream: []dt.Rec{keyCall(keyA, "s3:ListBuckets", w0), gci(keyA, w0.Add(4*time.Minute))}},
		{name: "listing delivered before the earlier GetCallerIdentity", want: 1, attachTo: 1,
			stream: []dt.Rec{keyCall(keyA, "iam:ListAttachedUserPolicies", w0.Add(3*time.Minute)), gci(keyA, w0)}},
		// Concurrent streams deliver records of one key out of order by far
		// more than the lateness: a later call of the key must not erase the
		// half of a pair whose partner is still on its way (issue 13).
		{name: "a listing half an hour later delivered between the pair", want: 1, attachTo: 2,
			stream: []dt.Rec{keyCall(keyA, "s3:ListBuckets", w0.Add(45*time.Second)),
				keyCall(keyA, "s3:ListBuckets", w0.Add(30*time.Minute)), gci(keyA, w0)}},
		{name: "a GetCallerIdentity half an hour later delivered between the pair", want: 1, attachTo: 2,
			stream: []dt.Rec{gci(keyA, w0), gci(keyA, w0.Add(30*time.Minute)),
				keyCall(keyA, "s3:ListBuckets", w0.Add(45*time.Second))}},
		{name: "a TruffleHog-style burst is one finding", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "iam:ListAttachedUserPolicies", w0.Add(time.Second)),
				keyCall(keyA, "iam:ListUserPolicies", w0.Add(2*time.Second)), keyCall(keyA, "iam:GetPolicyVersion", w0.Add(3*time.Second)),
				keyCall(keyA, "iam:GetAccountAuthorizationDetails", w0.Add(4*time.Second)), keyCall(keyA, "s3:ListBuckets", w0.Add(5*time.Second)),
				gci(keyA, w0.Add(6*time.Second))}},
		{name: "exactly the window apart", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "iam:GetRolePolicy", w0.Add(15*time.Minute))}},
		{name: "a denied listing still counts", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute)).Failed("AccessDenied")}},
		{name: "sensitive discovery is MEDIUM", want: 1, sev: detectors.SeverityMedium, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "secretsmanager:ListSecrets", w0.Add(time.Minute))}},
		{name: "six minutes apart", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(6*time.Minute))}},
		{name: "GetCallerIdentity by one key, ListBuckets by another key of the same user", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyB, "s3:ListBuckets", w0.Add(time.Minute))}},
		{name: "GetCallerIdentity then other reads", want: 1, attachTo: 1, stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "ec2:DescribeInstances", w0.Add(time.Minute)),
			keyCall(keyA, "iam:ListUsers", w0.Add(time.Minute)), keyCall(keyA, "s3:ListObjects", w0.Add(time.Minute))}},
		{name: "no access key: the principal still pairs", want: 1, attachTo: 1, stream: []dt.Rec{gci(keyA, w0).Without("userIdentity.accessKeyId"),
			keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute)).Without("userIdentity.accessKeyId")}},
		{name: "a chatty script is one finding per window", want: 2, attachTo: 1, stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 20 {
				at := w0.Add(time.Duration(i) * time.Minute)
				out = append(out, gci(keyA, at), keyCall(keyA, "s3:ListBuckets", at.Add(10*time.Second)))
			}
			return out
		}()},
		{name: "window is configurable", opts: "window: 30m", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(25*time.Minute))}},
		{name: "console sessions count when include_console is set", opts: "include_console: true", want: 1, attachTo: 1,
			stream: []dt.Rec{gci(keyS, w0).With("sessionCredentialFromConsole", "true"),
				keyCall(keyS, "s3:ListBuckets", w0.Add(time.Minute)).With("sessionCredentialFromConsole", "true")}},

		// Quiet side.
		{name: "hours apart", stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(3*time.Hour))}},
		{name: "just over the window apart", stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:ListBuckets", w0.Add(15*time.Minute+time.Second))}},
		{name: "GetCallerIdentity by one user, ListBuckets by another",
			stream: []dt.Rec{gci(keyA, w0), reconAsBob(keyCall(keyB, "s3:ListBuckets", w0.Add(time.Minute)))}},
		{name: "GetCallerIdentity alone, repeated", stream: []dt.Rec{gci(keyA, w0), gci(keyA, w0.Add(time.Minute)), gci(keyA, w0.Add(2*time.Minute))}},
		{name: "discovery alone", stream: []dt.Rec{keyCall(keyA, "s3:ListBuckets", w0), keyCall(keyA, "iam:ListPolicies", w0.Add(time.Minute))}},
		{name: "GetCallerIdentity then data reads and writes", stream: []dt.Rec{gci(keyA, w0), keyCall(keyA, "s3:GetObject", w0.Add(time.Minute)),
			keyCall(keyA, "s3:PutObject", w0.Add(time.Minute)), keyCall(keyA, "kms:Decrypt", w0.Add(time.Minute))}},
		{name: "AWS service callers", stream: []dt.Rec{gci(keyA, w0).With("sourceIPAddress", "lambda.amazonaws.com"),
			keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute)).With("userIdentity.invokedBy", "cloudformation.amazonaws.com"),
			gci(keyA, w0.Add(2*time.Minute)).With("userIdentity.type", "AWSService")}},
		{name: "console session", stream: []dt.Rec{gci(keyS, w0).With("sessionCredentialFromConsole", "true"),
			keyCall(keyS, "s3:ListBuckets", w0.Add(time.Minute)).With("sessionCredentialFromConsole", "true")}},
		{name: "a key rejected before authentication proves no principal", stream: []dt.Rec{gci(keyA, w0).Failed("InvalidClientTokenId"),
			keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute)).Failed("InvalidClientTokenId")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newStore(t)
			h := dt.NewWithStore(t, store, newRecon(t, tt.opts))
			vs := scored(h.Stream(tt.stream...))
			fs := reconTop(vs)
			if len(fs) != tt.want {
				for _, f := range fs {
					t.Logf("finding: %s", f.Explanation)
				}
				t.Fatalf("got %d incidents, want %d", len(fs), tt.want)
			}
			for _, f := range fs {
				if tt.sev != 0 && f.Severity != tt.sev {
					t.Errorf("severity %v, want %v: %s", f.Severity, tt.sev, f.Explanation)
				}
			}
			if first := dt.Only(builtin.CallerIdentityReconID, vs); tt.want > 0 && first[0].EventID != tt.stream[tt.attachTo].ID() {
				t.Errorf("the first finding attaches to the record completing the pair (%d): got %s %s", tt.attachTo, first[0].EventName, first[0].EventTime)
			}
		})
	}
}

func TestCallerIdentityReconExplains(t *testing.T) {
	h := dt.New(t, newRecon(t, ""))
	vs := h.Stream(keyCall(keyA, "iam:ListAttachedUserPolicies", w0.Add(-time.Minute)), keyCall(keyA, "s3:ListBuckets", w0.Add(time.Minute)), gci(keyA, w0))
	if fs := dt.Only(builtin.CallerIdentityReconID, vs); len(fs) == 1 && fs[0].Severity != detectors.SeverityMedium {
		t.Errorf("sensitive discovery: %v, want MEDIUM", fs[0].Severity)
	}
	fs := dt.Only(builtin.CallerIdentityReconID, vs)
	if len(fs) != 1 {
		t.Fatalf("want one finding, got %d", len(fs))
	}
	want := "arn:aws:iam::111122223333:user/alice (access key AKIAEXAMPLEALICE01) from 203.0.113.10 called " +
		"sts:GetCallerIdentity at 2024-08-01T13:00:00Z and iam:ListAttachedUserPolicies at 2024-08-01T12:59:00Z, " +
		"s3:ListBuckets at 2024-08-01T13:01:00Z, within 15m0s: checking whose credentials these are, then what they reach; " +
		"new for the principal: its first identity probe in 10 days; sensitive discovery on iam, not read in 10 days"
	if fs[0].Explanation != want {
		t.Errorf("explanation:\n got %s\nwant %s", fs[0].Explanation, want)
	}
	if fs[0].Evidence["new_location_at"] != "" || fs[0].Evidence["window_start"] != "2024-08-01T13:00:00Z" ||
		fs[0].Evidence["probe"] != "sts:GetCallerIdentity" {
		t.Errorf("evidence: %v", fs[0].Evidence)
	}
}

func TestCallerIdentityReconOptions(t *testing.T) {
	_, err := builtin.NewCallerIdentityRecon(options("window: 0s\nhabit_period: 1h\nescalation_window: 3h\nallowed_lateness: -1s"))
	var keys []string
	for _, e := range unjoin(err) {
		var oe *detectors.OptionError
		if errors.As(e, &oe) {
			keys = append(keys, oe.Key)
		}
	}
	if want := []string{"window", "habit_period", "escalation_window", "allowed_lateness"}; !slices.Equal(keys, want) {
		t.Errorf("option errors on %v, want %v (%v)", keys, want, err)
	}
}

// TestCallerIdentityReconShuffled: sorted and shuffled-within-lateness
// delivery raise the same incidents (key, window of the GetCallerIdentity
// call), and those an independent pairing of the stream predicts.
func TestCallerIdentityReconShuffled(t *testing.T) { reconShuffled(t, newMemory) }

func reconShuffled(t *testing.T, newStore newStoreFunc) {
	total := 0
	for seed := range uint64(12) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			stream := randomPairs(seed)
			want := expectedReconIncidents(stream, 15*time.Minute)
			total += len(want)
			sortedVs := scored(dt.NewWithStore(t, newStore(t), newRecon(t, "")).Stream(sortedByTime(stream)...))
			sorted := reconSeverities(sortedVs)
			if got := reconIncidents(sortedVs); !slices.Equal(got, want) {
				t.Fatalf("sorted stream: incidents %v, an independent pairing predicts %v", got, want)
			}
			for shuffle := range uint64(4) {
				h := dt.NewWithStore(t, newStore(t), newRecon(t, ""))
				got := reconSeverities(
					scored(scoreInBatches(h, deliver(stream, 15*time.Minute, seed*100+shuffle), shuffle)))
				if !slices.Equal(got, sorted) {
					t.Errorf("rule: shuffled within lateness gives the incidents of sorted, at the same highest severity; shuffle %d: %v, sorted: %v", shuffle, got, sorted)
				}
			}
		})
	}
	if total < 10 {
		t.Errorf("the generated streams must raise incidents to be a test; got %d over all seeds", total)
	}
}

// randomPairs is a seeded two-hour stream of two users (two keys each)
// calling GetCallerIdentity, discovery and data reads at random times. It
// is shorter than the habit gap, so every probe is a first.
func randomPairs(seed uint64) []dt.Rec {
	rng := rand.New(rand.NewPCG(seed, 7))
	actions := []string{"sts:GetCallerIdentity", "s3:ListBuckets", "iam:ListAttachedRolePolicies", "iam:GetPolicy", "s3:GetObject"}
	var out []dt.Rec
	for user, as := range []func(dt.Rec) dt.Rec{func(r dt.Rec) dt.Rec { return r }, reconAsBob} {
		keys := [2][2]string{{keyA, "AKIAEXAMPLEALICE02"}, {keyB, "AKIAEXAMPLEBOB0002"}}[user]
		for range 5 + rng.IntN(10) {
			at := w0.Add(time.Duration(rng.Int64N(int64(2 * time.Hour))).Truncate(time.Second))
			out = append(out, as(keyCall(keys[rng.IntN(2)], actions[rng.IntN(len(actions))], at)))
		}
	}
	return out
}

// expectedReconIncidents pairs the stream independently of the detector:
// every GetCallerIdentity with a discovery call of its user within w makes
// the incident (user, aligned window of the GetCallerIdentity).
func expectedReconIncidents(recs []dt.Rec, w time.Duration) []string {
	set := map[string]bool{}
	key := func(r dt.Rec) string { return r["userIdentity"].(map[string]any)["arn"].(string) }
	for _, g := range recs {
		if g["eventName"] != "GetCallerIdentity" {
			continue
		}
		for _, l := range recs {
			name := l["eventName"].(string)
			if key(l) != key(g) || name == "GetCallerIdentity" || name == "GetObject" {
				continue
			}
			if d := eventTime(l).Sub(eventTime(g)); d >= -w && d <= w {
				set[key(g)+" "+state.BucketStart(eventTime(g), w).Format(time.RFC3339)] = true
			}
		}
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestCallerIdentityReconPanther maps Panther's TruffleHog rule, which fires
// on one GetCallerIdentity by TruffleHog's user agent. This detector never
// fires on one call and ignores the user agent (a tool can send any): it
// needs the discovery that follows. Each case is checked alone (always
// quiet, unlike Panther) and followed two minutes later by ListBuckets from
// the same caller: that fires exactly when the case is an identity probe
// (Panther's cases include an AssumeRole, which is not) by a caller the
// record names (one case has neither an ARN nor a key), whatever its user
// agent.
func TestCallerIdentityReconPanther(t *testing.T) {
	for _, c := range dt.PantherCases(t, "testdata/panther/caller-identity-recon.jsonl", "AWS.STS.GetCallerIdentity.TruffleHog") {
		t.Run(c.TestName, func(t *testing.T) {
			c := withEventID(t, c)
			h := dt.New(t, newRecon(t, ""))
			alone := h.ScoreRaw(c.Event)
			if alone[0].Outcome != engine.OutcomeClean {
				t.Fatalf("one call is never a pair: %v %s", alone[0].Outcome, alone[0].Reason)
			}
			rec := pantherRecord(t, c)
			fs := dt.Only(builtin.CallerIdentityReconID, h.Score(sameCaller(t, c.Event, "s3:ListBuckets", rec.EventTime.Add(2*time.Minute))))
			if got, want := len(fs) == 1, rec.EventName == "GetCallerIdentity" && (rec.StablePrincipal() != "" || rec.UserIdentity.AccessKeyID != ""); got != want {
				t.Errorf("followed by ListBuckets: fires = %v, want %v (Panther's rule fires = %v)", got, want, c.Expected)
			}
		})
	}
}

// TestCallerIdentityReconStratus: real stolen instance credentials, used
// from outside AWS, call GetCallerIdentity then DescribeInstances: the
// role's first probe followed by discovery fires on the DescribeInstances,
// LOW because the file holds no earlier activity of the role (with the
// instance's own history it is MEDIUM; workload-credentials-off-workload
// raises the theft itself). Two persistence detonations call GetCallerIdentity
// alone: quiet.
func TestCallerIdentityReconStratus(t *testing.T) {
	for _, name := range []string{
		"aws.persistence.iam-create-user-login-profile.json",
		"aws.persistence.sts-federation-token.json",
	} {
		t.Run(name, func(t *testing.T) {
			if fs := dt.Only(builtin.CallerIdentityReconID, streamRaw(dt.New(t, newRecon(t, "")), stratus(t, name))); len(fs) != 0 {
				t.Errorf("want quiet: %s", fs[0].Explanation)
			}
		})
	}
	t.Run("stolen instance credentials", func(t *testing.T) {
		fs := dt.Only(builtin.CallerIdentityReconID, streamRaw(dt.New(t, newRecon(t, "")),
			stratus(t, "aws.credential-access.ec2-steal-instance-credentials.json")))
		if len(fs) != 1 || fs[0].Severity != detectors.SeverityLow || fs[0].EventName != "DescribeInstances" ||
			fs[0].Evidence["probe_at"] != "2024-08-02T08:23:55Z" {
			t.Fatalf("want one LOW finding pairing the real GetCallerIdentity and DescribeInstances: %+v", fs)
		}
	})
}
