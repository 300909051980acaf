package builtin_test

import (
	"bufio"
	"encoding/json"
	"fmt"
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

// Scenarios of issue 12, point 3: the shapes an attacker would give an
// enumeration to slip under a per-key, aligned, bare-count threshold (each
// fires, sorted and shuffled), their quiet twins, the daily scanners an
// organisation runs (learned, quiet unless they change), and console
// browsing. Streams are generated unless they say otherwise.

// scannerActions are 33 distinct reads over 11 services: what a scanner
// (or an attacker's tool) covers in one run.
var scannerActions = func() []string {
	var out []string
	for _, a := range slices.Concat(reconActions, twoServices) {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}()

// userCall is action by IAM user name with access key ak.
func userCall(user, ak, action string, at time.Time) dt.Rec {
	return keyCall(ak, action, at).With("userIdentity.arn", "arn:aws:iam::111122223333:user/"+user).
		With("userIdentity.userName", user)
}

// sessionCall is action by a session of role with access key ak.
func sessionCall(role, session, ak, action string, at time.Time) dt.Rec {
	svc, name, _ := strings.Cut(action, ":")
	return dt.Base(svc+".amazonaws.com", name, at).AsAssumedRole(role, session).With("userIdentity.accessKeyId", ak)
}

// genReads are n generated reads of service svc.
func genReads(svc string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s:DescribeGenerated%02d", svc, i)
	}
	return out
}

// spread is actions by one caller (call) evenly over total from start.
func spread(call func(action string, at time.Time) dt.Rec, actions []string, start time.Time, total time.Duration) []dt.Rec {
	out := make([]dt.Rec, len(actions))
	gap := total / time.Duration(max(1, len(actions)-1))
	for i, a := range actions {
		out[i] = call(a, start.Add(time.Duration(i)*gap))
	}
	return out
}

func byKey(ak string) func(string, time.Time) dt.Rec {
	return func(a string, at time.Time) dt.Rec { return keyCall(ak, a, at) }
}

// cloudControl is a Cloud Control read of resource type typeName.
func cloudControl(name, typeName string, at time.Time) dt.Rec {
	return dt.Base("cloudcontrolapi.amazonaws.com", name, at).With("userIdentity.accessKeyId", keyA).
		With("requestParameters", map[string]any{"typeName": typeName})
}

// nonSensitive15 are 15 reads of three services, none sensitive.
var nonSensitive15 = slices.Concat(twoServices[:12], []string{"s3:ListBuckets", "s3:GetBucketAcl", "lambda:ListFunctions20150331"})

func TestAccessKeyEnumerationShaping(t *testing.T) { enumerationShaping(t, newMemory) }

func enumerationShaping(t *testing.T, newStore newStoreFunc) {
	third := func(i int) string { return fmt.Sprintf("ASIAEXAMPLESESS%04d", i) }
	// sessions are three sessions of role reading 5 of nonSensitive15
	// each (weighing 7 at most alone, 17 together).
	sessions := func(role string, sessionName func(i int) string) []dt.Rec {
		var out []dt.Rec
		for i := range 3 {
			call := func(a string, at time.Time) dt.Rec { return sessionCall(role, sessionName(i), third(i), a, at) }
			out = append(out, spread(call, nonSensitive15[i*5:(i+1)*5], w0.Add(time.Duration(i)*2*time.Minute), 90*time.Second)...)
		}
		return out
	}
	ccTypes := []string{"AWS::EC2::Instance", "AWS::EC2::VPC", "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::IAM::User",
		"AWS::Lambda::Function", "AWS::RDS::DBInstance", "AWS::SecretsManager::Secret", "AWS::KMS::Key",
		"AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue"}
	tests := []enumScenario{
		{name: "14 distinct reads over 10 minutes", want: 1, sev: detectors.SeverityHigh,
			stream: spread(byKey(keyA), reconActions[:14], w0, 10*time.Minute)},
		{name: "15 distinct reads over 2 services", want: 1, sev: detectors.SeverityHigh,
			stream: spread(byKey(keyA), twoServices[:15], w0, 10*time.Minute)},
		{name: "16 reads straddling the 10-minute edge", want: 1, sev: detectors.SeverityHigh,
			stream: spread(byKey(keyA), reconActions[:16], w0.Add(5*time.Minute), 9*time.Minute)},
		{name: "15 reads (none sensitive) over 11 minutes", want: 1, sev: detectors.SeverityHigh,
			stream: spread(byKey(keyA), nonSensitive15, w0, 11*time.Minute)},
		{name: "one user's burst split over two access keys", want: 1, sev: detectors.SeverityHigh,
			stream: concat(spread(byKey(keyA), twoServices[:8], w0, 4*time.Minute),
				spread(byKey(keyB), twoServices[8:16], w0.Add(30*time.Second), 4*time.Minute))},
		{name: "one role's burst split over three sessions", want: 1, sev: detectors.SeverityHigh,
			stream: sessions("ops-automation", func(i int) string { return fmt.Sprintf("botocore-session-%d", i) })},
		{name: "Cloud Control ListResources over 12 resource types", want: 1, sev: detectors.SeverityHigh,
			stream: func() []dt.Rec {
				var out []dt.Rec
				for i, ty := range ccTypes {
					out = append(out, cloudControl("ListResources", ty, w0.Add(time.Duration(i)*40*time.Second)))
				}
				return out
			}()},
		{name: "a slow drip: 33 distinct reads over 4 hours", want: 1, sev: detectors.SeverityMedium,
			stream: spread(byKey(keyA), scannerActions, w0, 4*time.Hour),
			check:  map[string]string{"scale": "drip"}},
		{name: "a burst and the reads around it are one incident, not a burst and a drip", want: 1, sev: detectors.SeverityHigh,
			stream: concat(spread(byKey(keyA), scannerActions[:20], w0.Add(2*time.Hour), 3*time.Minute),
				spread(byKey(keyA), scannerActions[13:], w0, 5*time.Hour))},

		// Quiet twins.
		{name: "10 reads of 3 services over 11 minutes", stream: spread(byKey(keyA), nonSensitive15[5:], w0, 11*time.Minute)},
		{name: "8 reads each by two users", stream: concat(spread(byKey(keyA), twoServices[:8], w0, 4*time.Minute),
			spread(func(a string, at time.Time) dt.Rec { return userCall("bob", keyB, a, at) }, twoServices[8:16], w0, 4*time.Minute))},
		{name: "5 reads each by sessions of three roles", stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 3 {
				role := fmt.Sprintf("service-%d", i)
				call := func(a string, at time.Time) dt.Rec { return sessionCall(role, "s", third(i), a, at) }
				out = append(out, spread(call, nonSensitive15[i*5:(i+1)*5], w0.Add(time.Duration(i)*2*time.Minute), 90*time.Second)...)
			}
			return out
		}()},
		{name: "three people on one Identity Center permission set count apart",
			stream: sessions("aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Developer_0123456789abcdef",
				func(i int) string { return fmt.Sprintf("person%d@example.com", i) })},
		{name: "Cloud Control reads of odd type names count as the bare action", stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 20 {
				out = append(out, cloudControl("GetResource", fmt.Sprintf("AWS::EC2::Instance)!%02d", i), w0.Add(time.Duration(i)*10*time.Second)),
					cloudControl("GetResource", strings.Repeat("AWS::IAM::Role", 10)+fmt.Sprint(i), w0.Add(time.Duration(i)*10*time.Second)))
			}
			return out
		}()},
		{name: "Cloud Control ListResources of one type, 50 times", stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 50 {
				out = append(out, cloudControl("ListResources", "AWS::EC2::Instance", w0.Add(time.Duration(i)*10*time.Second)))
			}
			return out
		}()},
		{name: "a developer's 10 habitual reads every 20 minutes for 8 hours", stream: func() []dt.Rec {
			var out []dt.Rec
			for i := range 24 {
				out = append(out, spread(byKey(keyA), nonSensitive15[5:], w0.Add(time.Duration(i)*20*time.Minute), 5*time.Minute)...)
			}
			return out
		}()},
	}
	runEnumScenarios(t, newStore, tests)
	// The same scenarios delivered shuffled within the allowed lateness,
	// in micro-batches, raise the same incidents.
	for _, tt := range tests {
		t.Run(tt.name+"/shuffled", func(t *testing.T) {
			want := enumIncidents(dt.NewWithStore(t, newStore(t), newEnum(t, tt.opts)).Stream(tt.stream...))
			for shuffle := range uint64(3) {
				h := dt.NewWithStore(t, newStore(t), newEnum(t, tt.opts))
				if got := enumIncidents(scoreInBatches(h, deliver(tt.stream, 15*time.Minute, shuffle), shuffle)); !slices.Equal(got, want) {
					t.Errorf("rule: shuffled within lateness gives the incidents of sorted; shuffle %d: %v, sorted: %v", shuffle, got, want)
				}
			}
		})
	}
}

// scannerDays is a scanner (IAM user cspm, one key) reading actions once a
// day at 13:00 from ip, for days days.
func scannerDays(actions []string, days int, ip string) []dt.Rec {
	var out []dt.Rec
	for d := range days {
		call := func(a string, at time.Time) dt.Rec {
			return userCall("cspm", "AKIAEXAMPLECSPM0001", a, at).With("sourceIPAddress", ip)
		}
		out = append(out, spread(call, actions, w0.Add(time.Duration(d)*24*time.Hour), 3*time.Minute)...)
	}
	return out
}

func TestAccessKeyEnumerationScanners(t *testing.T) { enumerationScanners(t, newMemory) }

func enumerationScanners(t *testing.T, newStore newStoreFunc) {
	geo := fakeGeo{
		"203.0.113.0/24":  {Country: "DE", ASN: 64500, ASNOrg: "EXAMPLE-SCANNER-VENDOR"},
		"198.51.100.0/24": {Country: "NL", ASN: 64511, ASNOrg: "EXAMPLE-HOSTING"},
	}
	const home, elsewhere = "203.0.113.10", "198.51.100.9"
	withDay := func(base []dt.Rec, day []dt.Rec) []dt.Rec { return concat(base, day) }
	dayAt := func(d int, actions []string, ip string) []dt.Rec {
		return spread(func(a string, at time.Time) dt.Rec {
			return userCall("cspm", "AKIAEXAMPLECSPM0001", a, at).With("sourceIPAddress", ip)
		}, actions, w0.Add(time.Duration(d)*24*time.Hour), 3*time.Minute)
	}
	terraform := func(days int) []dt.Rec {
		var out []dt.Rec
		for d := range days {
			for p, hour := range []int{2, 10, 18} {
				session := fmt.Sprintf("terraform-run-%d-%d", d, p)
				ak := fmt.Sprintf("ASIAEXAMPLETF%02d%02d", d, p)
				start := time.Date(2024, 8, 1+d, hour, 0, 0, 0, time.UTC)
				out = append(out, spread(func(a string, at time.Time) dt.Rec {
					return sessionCall("terraform-runner", session, ak, a, at).With("userAgent", "APN/1.0 HashiCorp/1.0 Terraform/1.9.5")
				}, scannerActions[:25], start, 2*time.Minute)...)
			}
		}
		return out
	}
	cspmEvery30m := func(days int) []dt.Rec {
		var out []dt.Rec
		for run := range days * 48 {
			out = append(out, spread(func(a string, at time.Time) dt.Rec {
				return userCall("cspm", "AKIAEXAMPLECSPM0001", a, at).With("sourceIPAddress", home)
			}, scannerActions[:20], w0.Add(time.Duration(run)*30*time.Minute), time.Minute)...)
		}
		return out
	}
	for _, tt := range []struct {
		name   string
		geo    bool
		stream []dt.Rec
		want   []detectors.Severity // per finding, in order
	}{
		{name: "a new scanner alerts on its first two days, then is learned and quiet",
			stream: scannerDays(scannerActions, 5, home), want: []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh}},
		{name: "a CSPM scanning every 30 minutes: one incident per 6 hours until learned, then quiet",
			stream: cspmEvery30m(4), want: slices.Repeat([]detectors.Severity{detectors.SeverityHigh}, 6)},
		{name: "terraform plans, one role session each: the first two days alert, then quiet",
			stream: terraform(5), want: slices.Repeat([]detectors.Severity{detectors.SeverityHigh}, 6)},
		{name: "a learned scanner reading from a new ASN (GeoIP)", geo: true,
			stream: withDay(scannerDays(scannerActions, 4, home), dayAt(4, scannerActions, elsewhere)),
			want:   []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh, detectors.SeverityHigh}},
		{name: "a learned scanner reading from a new network prefix (no GeoIP)",
			stream: withDay(scannerDays(scannerActions, 4, home), dayAt(4, scannerActions, elsewhere)),
			want:   []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh, detectors.SeverityMedium}},
		{name: "a learned scanner reading a sensitive service new to it",
			stream: withDay(scannerDays(scannerActions, 4, home), dayAt(4, append(slices.Clone(scannerActions), "organizations:ListAccounts"), home)),
			want:   []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh, detectors.SeverityMedium}},
		{name: "a learned scanner's principal read with another tool (boto3 instead of its aws cli)", geo: true,
			stream: withDay(scannerDays(scannerActions, 4, home), func() []dt.Rec {
				rs := dayAt(4, scannerActions, home)
				for _, r := range rs {
					r.With("userAgent", "Boto3/1.34.0 md/Botocore#1.34.0 ua/2.0 os/linux#5.10 lang/python#3.11")
				}
				return rs
			}()),
			want: []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh, detectors.SeverityHigh}},
		{name: "quiet twin: a learned scanner covering a new, not sensitive service",
			stream: withDay(scannerDays(scannerActions, 4, home), dayAt(4, append(slices.Clone(scannerActions), "backup:ListBackupVaults"), home)),
			want:   []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh}},
		{name: "a learned scanner reading more than twice as broadly as usual",
			stream: withDay(scannerDays(scannerActions[:20], 4, home), dayAt(4, slices.Concat(scannerActions[:20], genReads("ec2", 30)), home)),
			want:   []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh, detectors.SeverityMedium}},
		{name: "quiet twin: a learned scanner a little broader than usual, from its network",
			stream: withDay(scannerDays(scannerActions[:30], 4, home), dayAt(4, scannerActions, home)),
			want:   []detectors.Severity{detectors.SeverityHigh, detectors.SeverityHigh}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := options("")
			if tt.geo {
				cfg.Settings.GeoIP = geo
			}
			d := dt.Must(builtin.NewAccessKeyEnumeration(cfg))
			fs := dt.Only(builtin.AccessKeyEnumerationID, dt.NewWithStore(t, newStore(t), d).Stream(tt.stream...))
			var got []detectors.Severity
			for _, f := range fs {
				got = append(got, f.Severity)
			}
			if !slices.Equal(got, tt.want) {
				for _, f := range fs {
					t.Logf("%v %s: %s", f.Severity, f.EventTime.Format(time.RFC3339), f.Explanation)
				}
				t.Fatalf("severities %v, want %v", got, tt.want)
			}
			sorted := enumIncidents(dt.NewWithStore(t, newStore(t), dt.Must(builtin.NewAccessKeyEnumeration(cfg))).Stream(tt.stream...))
			h := dt.NewWithStore(t, newStore(t), dt.Must(builtin.NewAccessKeyEnumeration(cfg)))
			if shuffled := enumIncidents(scoreInBatches(h, deliver(tt.stream, 15*time.Minute, 7), 7)); !slices.Equal(shuffled, sorted) {
				t.Errorf("rule: shuffled within lateness gives the incidents of sorted: %v, sorted: %v", shuffled, sorted)
			}
		})
	}
}

func TestAccessKeyEnumerationConsole(t *testing.T) { enumerationConsole(t, newMemory) }

func enumerationConsole(t *testing.T, newStore newStoreFunc) {
	withUA := func(ua string, rs []dt.Rec) []dt.Rec {
		for _, r := range rs {
			r.With("userAgent", ua)
		}
		return rs
	}
	session := func() []dt.Rec {
		return withUA("Mozilla/5.0 (X11; Linux x86_64)", enumBurst(keyS, reconActions, w0, 5*time.Second))
	}
	root := func(ak, ua string) []dt.Rec {
		rs := enumBurst(ak, reconActions, w0, 5*time.Second)
		for _, r := range rs {
			r.With("userIdentity.type", "Root").With("userIdentity.arn", "arn:aws:iam::111122223333:root").
				Without("userIdentity.userName").With("userAgent", ua)
		}
		return rs
	}
	tests := []enumScenario{
		{name: "root console browsing under console.ec2.amazonaws.com", stream: root(keyS, "console.ec2.amazonaws.com")},
		{name: "EC2ConsoleFrontend", stream: withUA("EC2ConsoleFrontend, aws-internal/3 aws-sdk-java/1.11.848 Linux/4.9.217-0.1.ac.205.84.332.metal1.x86_64 OpenJDK_64-Bit_Server_VM/25.262-b10 java/1.8.0_262 vendor/Oracle_Corporation", enumBurst(keyS, reconActions, w0, 5*time.Second))},
		{name: "S3Console", stream: withUA("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.11.666 Linux/4.9.184-0.1.ac.235.83.329.metal1.x86_64]", enumBurst(keyS, reconActions, w0, 5*time.Second))},
		{name: "AWS Internal", stream: withUA("AWS Internal", enumBurst(keyS, reconActions, w0, 5*time.Second))},
		{name: "console.amazonaws.com", stream: withUA("console.amazonaws.com", enumBurst(keyS, reconActions, w0, 5*time.Second))},
		{name: "a person's role session (switch role) under console.amazonaws.com", stream: func() []dt.Rec {
			rs := enumBurst(keyS, reconActions, w0, 5*time.Second)
			for _, r := range rs {
				r.AsAssumedRole("Admin", "alice@example.com").With("userIdentity.accessKeyId", keyS).With("userAgent", "console.amazonaws.com")
			}
			return rs
		}()},

		// Loud twins.
		// Each record is judged on its own: a flag on one record of the
		// session no longer excuses the others, which it did only when it
		// arrived first (recon_console_order_test.go).
		{name: "a session whose first record carries sessionCredentialFromConsole, the rest nothing", want: 1,
			stream: func() []dt.Rec { rs := session(); rs[0].With("sessionCredentialFromConsole", "true"); return rs }()},
		{name: "the same session with the flag on no record", want: 1, stream: session()},
		{name: "the flag on another session's record", want: 1, stream: func() []dt.Rec {
			rs := session()
			other := keyCall("ASIAEXAMPLEOTHER01", "ec2:DescribeRegions", w0).With("sessionCredentialFromConsole", "true")
			return concat([]dt.Rec{other}, rs)
		}()},
		{name: "root with a long-term key claiming the console", want: 1, stream: root(keyA, "console.ec2.amazonaws.com")},
		{name: "an EC2 instance's stolen credentials claiming the console", want: 1, stream: func() []dt.Rec {
			rs := enumBurst(keyS, reconActions, w0, 5*time.Second)
			for _, r := range rs {
				r.AsAssumedRole("BankingWAFRole", "i-0317f6c6b66ae9c40").With("userIdentity.accessKeyId", keyS).
					With("userAgent", "console.amazonaws.com")
			}
			return rs
		}()},
		{name: "a user agent that only mentions the console", want: 1,
			stream: withUA("aws-cli/2.15.0 Python/3.11 md/console.amazonaws.com", enumBurst(keyS, reconActions, w0, 5*time.Second))},
	}
	runEnumScenarios(t, newStore, tests)
}

// TestAccessKeyEnumerationRealConsole scores a person's real EC2 console
// browsing (OTRF: 87 records of one IAM user's console session, 21 distinct
// reads under console.ec2.amazonaws.com and EC2ConsoleFrontend user
// agents, interleaved with an attacker's stolen instance credentials): it
// must stay quiet. Its twin, the same records under a command-line user
// agent, is enumeration.
func TestAccessKeyEnumerationRealConsole(t *testing.T) {
	recs := otrfRecords(t)
	if fs := dt.Only(builtin.AccessKeyEnumerationID, dt.New(t, newEnum(t, "")).Stream(recs...)); len(fs) != 0 {
		t.Errorf("real console browsing must stay quiet: %s", fs[0].Explanation)
	}
	var cli []dt.Rec
	for _, r := range otrfRecords(t) {
		if ua, _ := r["userAgent"].(string); ua == "console.ec2.amazonaws.com" || len(ua) > 18 && ua[:18] == "EC2ConsoleFrontend" {
			cli = append(cli, r.With("userAgent", "aws-cli/2.15.0 Python/3.11.6 Linux/6.5"))
		}
	}
	if fs := dt.Only(builtin.AccessKeyEnumerationID, dt.New(t, newEnum(t, "")).Stream(cli...)); len(fs) != 1 {
		t.Errorf("the same reads from a command line are enumeration: %d findings, want 1", len(fs))
	}
}

// otrfRecords reads the OTRF records in event-time order, with eventTime
// copied from @timestamp (the set was exported through Logstash).
func otrfRecords(t *testing.T) []dt.Rec {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "otrf", "ec2_proxy_s3_exfiltration_2020-09-14011940.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []dt.Rec
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r dt.Rec
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, r["@timestamp"].(string))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r.With("eventTime", at.Format(time.RFC3339)))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sortedByTime(out)
}
