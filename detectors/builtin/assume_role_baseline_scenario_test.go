package builtin_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// Sign-in records here are generated, shaped after the AssumeRoleWithSAML,
// ConsoleLogin (AWSReservedSSO_) and AssumeRole records of
// panther-rule-tests and stratus-red-team.

// arsGeo places the networks of these scenarios.
var arsGeo = fakeGeo{
	"198.51.100.0/24": {Country: "DE", ASN: 3320, ASNOrg: "Deutsche Telekom AG"},  // alice's home ISP
	"198.51.101.0/24": {Country: "DE", ASN: 3209, ASNOrg: "Vodafone GmbH"},        // another German ISP
	"192.0.2.0/24":    {Country: "FR", ASN: 3215, ASNOrg: "Orange"},               // abroad
	"203.0.113.0/24":  {Country: "DE", ASN: 24940, ASNOrg: "Hetzner Online GmbH"}, // hosting, in the default list
	"3.0.0.0/9":       {Country: "US", ASN: 16509, ASNOrg: "AMAZON-02"},
	"52.0.0.0/11":     {Country: "IE", ASN: 14618, ASNOrg: "AMAZON-AES"},
}

func arsGeoSettings() *detectors.Settings { return &detectors.Settings{GeoIP: arsGeo} }

var arsDay0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

func arsDay(n int) time.Time { return arsDay0.Add(time.Duration(n) * 24 * time.Hour) }

func arsRole(name string) string { return "arn:aws:iam::111122223333:role/" + name }

// samlSignIn is subject signing in to role Engineer through Okta.
func samlSignIn(at time.Time, subject, ip string) dt.Rec {
	return samlSignInTo(at, subject, "Engineer", ip)
}

func samlSignInTo(at time.Time, subject, role, ip string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRoleWithSAML", at).With("sourceIPAddress", ip).
		With("userIdentity", map[string]any{"type": "SAMLUser", "principalId": "SAML:" + subject, "userName": subject,
			"identityProvider": "arn:aws:iam::111122223333:saml-provider/Okta"}).
		With("requestParameters", map[string]any{"roleArn": arsRole(role),
			"principalArn": "arn:aws:iam::111122223333:saml-provider/Okta", "roleSessionName": subject}).
		With("responseElements", map[string]any{"subject": subject, "subjectType": "persistent",
			"issuer": "http://www.okta.com/exk1", "nameQualifier": "q1", "audience": "https://signin.aws.amazon.com/saml"})
}

// ssoConsole is Identity Center user signing in to the console with a
// permission set.
func ssoConsole(at time.Time, user, ip string) dt.Rec {
	return dt.Base("signin.amazonaws.com", "ConsoleLogin", at).With("eventType", "AwsConsoleSignIn").
		With("sourceIPAddress", ip).AsAssumedRole("AWSReservedSSO_Developer_0123456789abcdef", user).
		With("responseElements", map[string]any{"ConsoleLogin": "Success"})
}

// ssoRoleCredentials is Identity Center handing user the credentials of a
// permission set (the portal or `aws sso login`).
func ssoRoleCredentials(at time.Time, user, ip string) dt.Rec {
	return dt.Base("sso.amazonaws.com", "GetRoleCredentials", at).With("sourceIPAddress", ip).
		With("userIdentity", map[string]any{"type": "Unknown", "principalId": "111122223333", "accountId": "111122223333", "userName": user}).
		With("requestParameters", map[string]any{"roleName": "Developer", "accountId": "111122223333"})
}

// chainAssume is a workload's session of callerRole assuming role from ip.
func chainAssume(at time.Time, callerRole, role, ip string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRole", at).With("sourceIPAddress", ip).
		With("requestParameters", map[string]any{"roleArn": arsRole(role), "roleSessionName": dt.FreshID()}).
		AsAssumedRole(callerRole, "session-"+dt.FreshID()[:8])
}

// days repeats one sign-in a day, at 09:00 plus the day's hour offset,
// for days [from, to).
func days(from, to int, f func(at time.Time, day int) dt.Rec) []dt.Rec {
	var out []dt.Rec
	for d := from; d < to; d++ {
		out = append(out, f(arsDay(d), d))
	}
	return out
}

// aliceAtHome is alice signing in from her home ISP every day, from a new
// address each day.
func aliceAtHome(n int) []dt.Rec {
	return days(0, n, func(at time.Time, d int) dt.Rec {
		return samlSignIn(at, "alice@example.com", fmt.Sprintf("198.51.100.%d", 10+d))
	})
}

// lambdaRuns is a Lambda function's role chaining into a cross-account
// role every hour for n days, from AWS addresses of two regions.
func lambdaRuns(n int) []dt.Rec {
	var out []dt.Rec
	for h := range n * 24 {
		ip := fmt.Sprintf("3.%d.%d.7", h%100, h%7)
		if h%3 == 0 {
			ip = fmt.Sprintf("52.%d.1.9", h%20)
		}
		out = append(out, chainAssume(arsDay0.Add(time.Duration(h)*time.Hour), "report-lambda", "CrossAccountReader", ip))
	}
	return out
}

// crowd is n people signing in once on day 0 from a network of nets,
// chosen in turn: an organisation's first day.
func crowd(n int, nets ...string) []dt.Rec {
	var out []dt.Rec
	for i := range n {
		out = append(out, samlSignIn(arsDay0.Add(time.Duration(i)*time.Minute), fmt.Sprintf("person%03d@example.com", i),
			fmt.Sprintf(nets[i%len(nets)], i%250)))
	}
	return out
}

func newARUSGeo(t testing.TB, s *detectors.Settings) detectors.Detector {
	t.Helper()
	return newARUS(t, s, "")
}

type arsScenario struct {
	name     string
	settings *detectors.Settings
	stream   []dt.Rec
	want     func(s []dt.Rec) []want
}

func arsLast(sev detectors.Severity) func([]dt.Rec) []want {
	return func(s []dt.Rec) []want { return []want{{s[len(s)-1].ID(), sev}} }
}

// arsAt wants one finding of sev on the record at index i.
func arsAt(i int, sev detectors.Severity) func([]dt.Rec) []want {
	return func(s []dt.Rec) []want { return []want{{s[i].ID(), sev}} }
}

func arsNone([]dt.Rec) []want { return nil }

func cat(parts ...[]dt.Rec) []dt.Rec { return slices.Concat(parts...) }

func arsScenarios() []arsScenario {
	geo := arsGeoSettings()
	privileged := &detectors.Settings{GeoIP: arsGeo, PrivilegedRoles: []string{"arn:aws:iam::*:role/Admin*"}}
	trusted := &detectors.Settings{GeoIP: arsGeo, TrustedCIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}
	noDB := &detectors.Settings{}
	one := func(at time.Time, subject, ip string) []dt.Rec { return []dt.Rec{samlSignIn(at, subject, ip)} }
	return []arsScenario{
		// People.
		{"the usual home ISP is quiet, whatever the address", geo,
			cat(aliceAtHome(10), one(arsDay(10), "alice@example.com", "198.51.100.250")), arsNone},
		{"a new ASN in a known country is MEDIUM", geo,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "198.51.101.9")), arsLast(detectors.SeverityMedium)},
		// A day after the last sign-in at home: a trip.
		{"a new country after a day is a trip: LOW", geo,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "192.0.2.66")), arsLast(detectors.SeverityLow)},
		// An hour after a sign-in at home: nobody travelled.
		{"a new country an hour after a sign-in at home is HIGH: impossible travel", geo,
			cat(aliceAtHome(8), one(arsDay(8).Add(-time.Hour), "alice@example.com", "198.51.100.20"), one(arsDay(8), "alice@example.com", "192.0.2.66")), arsLast(detectors.SeverityHigh)},
		// The home sign-in a minute after the foreign one (either side of
		// the world at once), delivered in order.
		{"a sign-in elsewhere just after the new country is HIGH: impossible travel", geo,
			cat(aliceAtHome(8), one(arsDay(8).Add(-time.Minute), "alice@example.com", "198.51.100.20"), one(arsDay(8), "alice@example.com", "192.0.2.66")), arsAt(len(aliceAtHome(8))+1, detectors.SeverityHigh)},
		{"a hosting network is HIGH", geo,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "203.0.113.5")), arsLast(detectors.SeverityHigh)},
		{"a privileged role raises a new ASN to HIGH", privileged,
			cat(aliceAtHome(8), []dt.Rec{samlSignInTo(arsDay(8), "alice@example.com", "AdminRole", "198.51.101.9")}), arsLast(detectors.SeverityHigh)},
		{"a trusted network is never judged", trusted,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "192.0.2.66")), arsNone},
		{"one finding per person, role and network a day; known the next day", geo,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "198.51.101.9"), one(arsDay(8).Add(time.Minute), "alice@example.com", "198.51.101.10"),
				one(arsDay(8).Add(2*time.Hour), "alice@example.com", "198.51.101.11"), one(arsDay(9), "alice@example.com", "198.51.101.12")),
			func(s []dt.Rec) []want { return []want{{s[8].ID(), detectors.SeverityMedium}} }},
		{"a shared role: a colleague's ISP is still new for alice", geo,
			cat(aliceAtHome(8), days(0, 8, func(at time.Time, d int) dt.Rec {
				return samlSignIn(at.Add(time.Hour), "bob@example.com", fmt.Sprintf("198.51.101.%d", 20+d))
			}), one(arsDay(8), "alice@example.com", "198.51.101.9")), arsLast(detectors.SeverityMedium)},
		{"a new ASN that many of the organisation's people use is LOW", geo,
			cat(aliceAtHome(8), crowd(6, "198.51.101.%d"), one(arsDay(8), "alice@example.com", "198.51.101.9")), arsLast(detectors.SeverityLow)},
		{"120 people's first sign-ins are quiet", geo,
			crowd(120, "198.51.100.%d", "198.51.101.%d", "192.0.2.%d"), arsNone},
		{"a new hire from a common network after the organisation's warm-up is quiet", geo,
			cat(crowd(20, "198.51.100.%d", "198.51.101.%d"), aliceAtHome(9), one(arsDay(9), "newhire@example.com", "198.51.101.77")), arsNone},
		{"a new person from a network nobody in the organisation uses is MEDIUM", geo,
			cat(crowd(20, "198.51.100.%d", "198.51.101.%d"), aliceAtHome(9), one(arsDay(9), "newhire@example.com", "192.0.2.77")),
			arsLast(detectors.SeverityMedium)},
		{"a person's first sign-in from a hosting network is HIGH", geo,
			cat(crowd(20, "198.51.100.%d"), one(arsDay0.Add(time.Hour), "mallory@example.com", "203.0.113.66")), arsLast(detectors.SeverityHigh)},
		{"Identity Center: console and GetRoleCredentials are one person, keyed on the user", geo,
			cat(days(0, 8, func(at time.Time, d int) dt.Rec {
				if d%2 == 0 {
					return ssoConsole(at, "carol@example.com", fmt.Sprintf("198.51.100.%d", 60+d))
				}
				return ssoRoleCredentials(at, "carol@example.com", fmt.Sprintf("198.51.100.%d", 60+d))
			}), []dt.Rec{ssoRoleCredentials(arsDay(8), "carol@example.com", "198.51.100.99"),
				ssoConsole(arsDay(8).Add(time.Hour), "carol@example.com", "198.51.101.3")}), arsLast(detectors.SeverityMedium)},
		{"a failed console sign-in is not judged", geo,
			cat(aliceAtHome(8), []dt.Rec{ssoConsole(arsDay(8), "alice@example.com", "203.0.113.5").
				With("responseElements", map[string]any{"ConsoleLogin": "Failure"})}), arsNone},
		{"web identity is keyed on the token's subject", geo,
			cat(days(0, 8, func(at time.Time, d int) dt.Rec {
				return webSignIn(at, "repo:org/app:ref:refs/heads/main", "203.0.113.40")
			}),
				[]dt.Rec{webSignIn(arsDay(8), "repo:org/app:ref:refs/heads/main", "203.0.113.41"),
					webSignIn(arsDay(8).Add(time.Hour), "repo:org/app:ref:refs/heads/main", "192.0.2.9")}), arsLast(detectors.SeverityHigh)},
		// Automation.
		{"cross-account automation from AWS networks is quiet", geo, lambdaRuns(9), arsNone},
		{"automation assuming a role its caller never assumed is MEDIUM", geo,
			cat(lambdaRuns(8), []dt.Rec{chainAssume(arsDay(8), "report-lambda", "BillingAdmin", "3.1.2.3")}), arsLast(detectors.SeverityMedium)},
		{"automation leaving AWS networks is HIGH", geo,
			cat(lambdaRuns(8), []dt.Rec{chainAssume(arsDay(8), "report-lambda", "CrossAccountReader", "198.51.100.7")}), arsLast(detectors.SeverityHigh)},
		{"a service acting for the caller is AWS", geo,
			cat(lambdaRuns(8), []dt.Rec{chainAssume(arsDay(8), "report-lambda", "CrossAccountReader", "cloudformation.amazonaws.com").
				With("userIdentity.invokedBy", "cloudformation.amazonaws.com")}), arsNone},
		{"AWS services assuming roles are never judged", geo,
			[]dt.Rec{det3AsService(chainAssume(arsDay(8), "x", "lambda-exec", ""), "lambda.amazonaws.com")}, arsNone},
		// Without databases.
		{"without databases the home /16 is quiet", noDB,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "198.51.7.7")), arsNone},
		{"without databases a new /16 is MEDIUM", noDB,
			cat(aliceAtHome(8), one(arsDay(8), "alice@example.com", "192.0.2.66")), arsLast(detectors.SeverityMedium)},
		// A colleague on the /16 for days: one who used it only the day
		// before may be the same thief's (assume_role_settled_network_test).
		{"without databases a new /16 a colleague has used for days is LOW", noDB,
			cat(aliceAtHome(8), one(arsDay(1), "bob@example.com", "192.0.2.10"), one(arsDay(8), "alice@example.com", "192.0.2.66")), arsLast(detectors.SeverityLow)},
		{"without databases IPv6 compares /48s", noDB,
			cat(days(0, 8, func(at time.Time, d int) dt.Rec {
				return samlSignIn(at, "alice@example.com", fmt.Sprintf("2001:db8:1:%x::1", d))
			}), one(arsDay(8), "alice@example.com", "2001:db8:1:ff::9"), one(arsDay(8).Add(time.Hour), "alice@example.com", "2001:db8:2::9")),
			arsLast(detectors.SeverityMedium)},
	}
}

// webSignIn is a pipeline's AssumeRoleWithWebIdentity.
func webSignIn(at time.Time, sub, ip string) dt.Rec {
	return dt.Base("sts.amazonaws.com", "AssumeRoleWithWebIdentity", at).With("sourceIPAddress", ip).
		With("userIdentity", map[string]any{"type": "WebIdentityUser", "principalId": "oidc:" + sub, "userName": sub,
			"identityProvider": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"}).
		With("requestParameters", map[string]any{"roleArn": arsRole("gha-deploy"), "roleSessionName": "GitHubActions"}).
		With("responseElements", map[string]any{"subjectFromWebIdentityToken": sub,
			"provider": "arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"})
}

func runARUSScenarios(t *testing.T, newStore newStoreFunc) {
	for _, sc := range arsScenarios() {
		t.Run(sc.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newARUSGeo(t, sc.settings))
			checkFindings(t, builtin.AssumeRoleUnexpectedSourceID, h, sc.stream, sc.want(sc.stream)...)
		})
	}
}

func TestAssumeRoleUnexpectedSourceScenarios(t *testing.T) { runARUSScenarios(t, memoryStore) }

// arsIncidents names each finding by its person, role and network: what
// makes it one incident, whichever of its records was scored first.
func arsIncidents(fs []detectors.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Evidence["person"]+" "+f.Evidence["role_arn"]+" "+f.Evidence["network"]+" "+f.Severity.String())
	}
	slices.Sort(out)
	return out
}

// arsShuffled runs the loud scenarios, and a day of several incidents at
// once, in delivery orders shuffled within the allowed lateness and in
// micro-batches: the incidents must be those of the sorted stream.
func arsShuffled(t *testing.T, newStore newStoreFunc) {
	day8 := []dt.Rec{
		samlSignIn(arsDay(8), "alice@example.com", "198.51.101.9"),
		samlSignIn(arsDay(8).Add(time.Minute), "alice@example.com", "198.51.101.10"),
		samlSignIn(arsDay(8).Add(2*time.Minute), "alice@example.com", "203.0.113.5"),
		samlSignIn(arsDay(8).Add(3*time.Minute), "alice@example.com", "198.51.100.99"),
		chainAssume(arsDay(8).Add(4*time.Minute), "report-lambda", "BillingAdmin", "3.1.2.3"),
		chainAssume(arsDay(8).Add(5*time.Minute), "report-lambda", "BillingAdmin", "3.1.2.4"),
		chainAssume(arsDay(8).Add(6*time.Minute), "report-lambda", "CrossAccountReader", "192.0.2.8"),
	}
	stream := cat(aliceAtHome(8), lambdaRuns(8), day8)
	want := []string{
		"SAML subject alice@example.com " + arsRole("Engineer") + " asn:24940 HIGH",
		"SAML subject alice@example.com " + arsRole("Engineer") + " asn:3209 MEDIUM",
		arsRole("report-lambda") + " " + arsRole("BillingAdmin") + " aws MEDIUM",
		arsRole("report-lambda") + " " + arsRole("CrossAccountReader") + " asn:3215 HIGH",
	}
	sorted := arsIncidents(dt.Only(builtin.AssumeRoleUnexpectedSourceID,
		dt.NewWithStore(t, newStore(t), newARUSGeo(t, arsGeoSettings())).Stream(sortedByTime(stream)...)))
	if !slices.Equal(sorted, want) {
		t.Fatalf("sorted stream: incidents %q, want %q", sorted, want)
	}
	for seed := range uint64(6) {
		h := dt.NewWithStore(t, newStore(t), newARUSGeo(t, arsGeoSettings()))
		got := arsIncidents(dt.Only(builtin.AssumeRoleUnexpectedSourceID,
			scored(scoreInBatches(h, deliver(stream, detectors.AllowedLateness, seed), seed))))
		if !slices.Equal(got, sorted) {
			t.Errorf("rule: shuffled within lateness gives the incidents of sorted; seed %d: %q, sorted: %q", seed, got, sorted)
		}
	}
}

func TestAssumeRoleUnexpectedSourceShuffled(t *testing.T) { arsShuffled(t, memoryStore) }
