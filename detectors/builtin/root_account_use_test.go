package builtin_test

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

func newRootUse(t testing.TB, s *detectors.Settings) detectors.Detector {
	t.Helper()
	if s == nil {
		s = &detectors.Settings{}
	}
	d, err := builtin.NewRootAccountUse(detectors.Config{Settings: s})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// asRoot makes r a call by the root user of 111122223333 (generated).
func asRoot(r dt.Rec) dt.Rec {
	return r.With("userIdentity", map[string]any{
		"type": "Root", "principalId": "111122223333", "arn": "arn:aws:iam::111122223333:root",
		"accountId": "111122223333", "accessKeyId": "ASIAEXAMPLEROOT0001",
	})
}

// rootLogin is a generated root console sign-in from ip.
func rootLogin(at time.Time, ip, outcome string) dt.Rec {
	return asRoot(dt.Base("signin.amazonaws.com", "ConsoleLogin", at)).
		With("eventType", "AwsConsoleSignIn").With("sourceIPAddress", ip).
		With("responseElements", map[string]any{"ConsoleLogin": outcome}).
		With("additionalEventData", map[string]any{"MFAUsed": "Yes", "MobileVersion": "No"})
}

func rootCall(source, name string, at time.Time, ip string) dt.Rec {
	return asRoot(dt.Base(source, name, at)).With("sourceIPAddress", ip)
}

func TestRootAccountUseContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: func() detectors.Detector { return newRootUse(t, nil) },
		Loud: []dt.Rec{
			rootLogin(t0, "203.0.113.10", "Success"),
			rootCall("iam.amazonaws.com", "CreateUser", t0.Add(time.Minute), "203.0.113.10").
				With("requestParameters", map[string]any{"userName": "backdoor"}),
		},
		Quiet: []dt.Rec{
			rootLogin(t0, "203.0.113.10", "Failure"),
			rootCall("s3.amazonaws.com", "PutBucketPolicy", t0, "203.0.113.10").Failed("AccessDenied"),
			rootCall("s3.amazonaws.com", "GetBucketAcl", t0, "203.0.113.10").With("userIdentity.invokedBy", "signin.amazonaws.com"),
			rootCall("iam.amazonaws.com", "CreateServiceLinkedRole", t0, "AWS Internal"),
			dt.Base("signin.amazonaws.com", "ConsoleLogin", t0).With("responseElements", map[string]any{"ConsoleLogin": "Success"}),
		},
	})
}

// TestRootAccountUseSeverities runs generated streams, one rule each.
func TestRootAccountUseSeverities(t *testing.T) {
	trusted := &detectors.Settings{TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}}
	hosting := &detectors.Settings{GeoIP: fakeGeo{
		"203.0.113.0/24": {Country: "US", ASN: 64500},
		"192.0.2.0/24":   {Country: "NL", ASN: 14061, ASNOrg: "DigitalOcean"},
	}}
	history := rootLogin(day(-30), "203.0.113.10", "Success")
	cases := []struct {
		name     string
		settings *detectors.Settings
		stream   []dt.Rec
		want     []detectors.Severity // of the last record, none when empty
	}{
		{"first root use ever is MEDIUM", nil, []dt.Rec{rootLogin(t0, "198.51.100.7", "Success")}, []detectors.Severity{detectors.SeverityMedium}},
		{"known network is MEDIUM", nil, []dt.Rec{history, rootLogin(t0, "203.0.113.99", "Success")}, []detectors.Severity{detectors.SeverityMedium}},
		{"network new for root is HIGH", nil, []dt.Rec{history, rootLogin(t0, "198.51.100.7", "Success")}, []detectors.Severity{detectors.SeverityHigh}},
		{"trusted network is LOW", trusted, []dt.Rec{rootLogin(t0, "203.0.113.7", "Success")}, []detectors.Severity{detectors.SeverityLow}},
		{"new but trusted network is LOW", trusted, []dt.Rec{rootLogin(day(-30), "198.51.100.7", "Success"), rootLogin(t0, "203.0.113.7", "Success")}, []detectors.Severity{detectors.SeverityLow}},
		{"hosting network is HIGH", hosting, []dt.Rec{rootCall("s3.amazonaws.com", "ListBuckets", t0, "192.0.2.8")}, []detectors.Severity{detectors.SeverityHigh}},
		{"persistence by root is HIGH", nil, []dt.Rec{rootCall("iam.amazonaws.com", "UpdateAssumeRolePolicy", t0, "203.0.113.10").
			With("requestParameters", map[string]any{"roleName": "ops"})}, []detectors.Severity{detectors.SeverityHigh}},
		{"a second use the same day on the same network is one incident", nil, []dt.Rec{rootLogin(t0, "198.51.100.7", "Success"),
			rootCall("s3.amazonaws.com", "ListBuckets", t0.Add(time.Hour), "198.51.100.8")}, nil},
		{"root access key creation is left to access-key-persistence", nil, []dt.Rec{rootCall("iam.amazonaws.com", "CreateAccessKey", t0, "198.51.100.7")}, nil},
		{"AWS service on root's behalf is quiet", nil, []dt.Rec{rootCall("iam.amazonaws.com", "CreateServiceLinkedRole", t0, "organizations.amazonaws.com").
			With("userIdentity.invokedBy", "organizations.amazonaws.com")}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := dt.New(t, newRootUse(t, c.settings))
			h.Stream(c.stream[:len(c.stream)-1]...)
			var got []detectors.Severity
			for _, f := range dt.Only(builtin.RootAccountUseID, h.Stream(c.stream[len(c.stream)-1])) {
				got = append(got, f.Severity)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

// TestRootAccessKeyNotDoubleReported runs both detectors on a root access
// key creation: one CRITICAL from access-key-persistence, nothing here.
func TestRootAccessKeyNotDoubleReported(t *testing.T) {
	h := dt.New(t, newRootUse(t, nil), dt.Must(builtin.NewAccessKeyPersistence(detectors.DefaultConfig())))
	vs := h.Stream(rootCall("iam.amazonaws.com", "CreateAccessKey", t0, "198.51.100.7").
		With("responseElements", map[string]any{"accessKey": map[string]any{"accessKeyId": "AKIAEXAMPLEROOTKEY1"}}))
	if n := len(dt.Only(builtin.RootAccountUseID, vs)); n != 0 {
		t.Errorf("rule: root-account-use leaves root keys to access-key-persistence; got %d findings", n)
	}
	fs := dt.Only(builtin.AccessKeyPersistenceID, vs)
	if len(fs) != 1 || fs[0].Severity != detectors.SeverityCritical {
		t.Errorf("want one CRITICAL from access-key-persistence, got %v", fs)
	}
}

// readJSONLines reads a testdata file of bare CloudTrail records, one a line.
func readJSONLines(t testing.TB, name string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Split(bytes.TrimSpace(data), []byte("\n"))
}

// rootScenario is Panther's compromised-root-creds: the victim's own root
// sign-ins (27, 16 and 15 October, in that file order, one network) then the attacker's (three
// failed sign-ins, a successful one from another network on 1 November,
// a failed StopLogging, a root access key, CreateUser tracy_stone and
// three AttachUserPolicy, a key for tracy_stone).
func rootScenario(t testing.TB) [][]byte {
	return append(readJSONLines(t, "panther/compromised-root-creds__victim_cloudtrail.jsonl"),
		readJSONLines(t, "panther/compromised-root-creds__attacker_cloudtrail.jsonl")...)
}

type rootWant struct {
	name, time string
	sev        detectors.Severity
}

var rootScenarioWant = []rootWant{
	{"ConsoleLogin", "2020-10-15T06:00:00Z", detectors.SeverityMedium},
	{"ConsoleLogin", "2020-10-16T06:00:00Z", detectors.SeverityMedium},
	{"ConsoleLogin", "2020-10-27T06:00:00Z", detectors.SeverityMedium},
	{"ConsoleLogin", "2020-11-01T08:29:10Z", detectors.SeverityHigh},
	{"CreateUser", "2020-11-01T08:35:19Z", detectors.SeverityHigh},
}

func TestRootAccountUsePantherScenario(t *testing.T) {
	runRootScenario(t, memoryStore)
}

func TestRootAccountUseOnRedis(t *testing.T) {
	runOnRedis(t, runRootScenario)
}

// runRootScenario scores the victim's history in time order, then the
// attacker's records of 1 November in delivery orders shuffled within the
// allowed lateness and in random batches: the findings are the same
// incidents, at the same severities, whatever the order. The attacker's
// HIGH incidents may be raised on any record of their incident, so they
// are compared by incident rather than by record.
func runRootScenario(t *testing.T, newStore newStoreFunc) {
	lines := rootScenario(t)
	sorted := func(h *dt.Harness) []rootWant {
		var got []rootWant
		for _, l := range lines {
			for _, f := range dt.Only(builtin.RootAccountUseID, h.ScoreRaw(l)) {
				got = append(got, rootWant{f.EventName, f.EventTime.Format(time.RFC3339), f.Severity})
			}
		}
		slices.SortFunc(got, func(a, b rootWant) int { return strings.Compare(a.time, b.time) })
		return got
	}
	if got := sorted(dt.NewWithStore(t, newStore(t), newRootUse(t, nil))); !slices.Equal(got, rootScenarioWant) {
		t.Fatalf("file order: got %v, want %v", got, rootScenarioWant)
	}
	var history, attack []dt.Rec
	for _, l := range lines {
		var r dt.Rec
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		if r["eventTime"].(string) < "2020-11-01" {
			history = append(history, r)
		} else {
			attack = append(attack, r)
		}
	}
	for seed := range uint64(6) {
		h := dt.NewWithStore(t, newStore(t), newRootUse(t, nil))
		h.Stream(sortedByTime(history)...)
		var sevs []string
		for _, f := range dt.Only(builtin.RootAccountUseID, scoreInBatches(h, deliver(attack, detectors.AllowedLateness, seed), seed)) {
			sevs = append(sevs, f.Severity.String()+" "+f.Evidence["target"])
		}
		slices.Sort(sevs)
		if want := []string{"HIGH ", "HIGH user/tracy_stone"}; !slices.Equal(sevs, want) {
			t.Errorf("seed %d: rule: shuffled delivery gives the incidents of the sorted stream; got %v, want %v", seed, sevs, want)
		}
	}
}

// TestRootAccountUsePantherCases runs Panther's root rules' tests. Where
// the verdict differs from Panther's, the case says why.
func TestRootAccountUsePantherCases(t *testing.T) {
	want := map[string]detectors.Severity{
		"Successful Root Login": detectors.SeverityMedium,
		"Root Activity":         detectors.SeverityMedium,
		// Differs: a service-linked role root creates itself (no invokedBy)
		// is still root used by hand.
		"Root Activity - CreateServiceLinkedRole": detectors.SeverityMedium,
		// Differs: a root session reading is root use all the same (CIS
		// alarms on any root use); one incident per network and day keeps
		// a console session's reads to one finding.
		"Root Read-Only Enumeration": detectors.SeverityMedium,
	}
	checkPantherSeverities(t, "root-account-use.jsonl", func() detectors.Detector { return newRootUse(t, nil) }, want)
}
