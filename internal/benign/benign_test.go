package benign_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/benign"
	"github.com/iamsentry/iamsentry/internal/racetest"
)

// generated is the default corpus, built once for the tests of this file
// (and not for make noise, which builds its own).
var generated = sync.OnceValue(func() *benign.Corpus { return benign.Generate(benign.Options{Seed: 7}) })

// TestDeterministic generates three days twice with one seed, and once with
// another: the month is the same code run longer.
func TestDeterministic(t *testing.T) {
	racetest.SkipLong(t)
	days := func(seed uint64) *benign.Corpus { return benign.Generate(benign.Options{Seed: seed, Days: 3}) }
	a, b := days(7), days(7)
	if len(a.Records) != len(b.Records) {
		t.Fatalf("same seed, %d then %d records", len(a.Records), len(b.Records))
	}
	for i := range a.Records {
		if !bytes.Equal(a.Records[i].JSON, b.Records[i].JSON) || a.Pattern[i] != b.Pattern[i] {
			t.Fatalf("same seed, record %d differs:\n%s\n%s", i, a.Records[i].JSON, b.Records[i].JSON)
		}
	}
	if other := days(8); bytes.Equal(other.Records[0].JSON, a.Records[0].JSON) {
		t.Error("another seed gave the same first record")
	}
}

// TestOrganisation checks the corpus is the organisation the benchmark
// promises: at least 100 people over 30 days in at least three accounts,
// records sorted with unique ids, every one parsing.
func TestOrganisation(t *testing.T) {
	racetest.SkipLong(t)
	c := generated()
	if len(c.People) < 100 {
		t.Errorf("%d people, want >= 100", len(c.People))
	}
	emails := map[string]bool{}
	for _, p := range c.People {
		if emails[p.Email] {
			t.Errorf("person %s twice", p.Email)
		}
		emails[p.Email] = true
	}
	first, last := c.Records[0].Time, c.Records[len(c.Records)-1].Time
	if days := last.Sub(first) / (24 * time.Hour); days < 29 {
		t.Errorf("records span %d days, want 30", days)
	}
	ids := make(map[string]bool, len(c.Records))
	for i, r := range c.Records {
		if i > 0 && r.Time.Before(c.Records[i-1].Time) {
			t.Fatalf("record %d out of time order", i)
		}
		id := eventID(r.JSON)
		if id == "" || ids[id] {
			t.Fatalf("record %d: event id %q missing or seen before", i, id)
		}
		ids[id] = true
	}
	accounts, parsed := map[string]bool{}, map[string]int{}
	for _, r := range decoded(t) {
		accounts[r.RecipientAccountID] = true
		// The parser on the first hundred records of every pattern (make
		// noise parses them all).
		if parsed[r.pattern]++; parsed[r.pattern] <= 100 {
			if _, err := cloudtrail.Parse(c.Records[r.index].JSON, cloudtrail.Options{}); err != nil {
				t.Fatalf("record %d does not parse: %v\n%s", r.index, err, c.Records[r.index].JSON)
			}
		}
	}
	if len(accounts) < 3 {
		t.Errorf("records in %d accounts, want >= 3", len(accounts))
	}
}

// raw is the part of a record the pattern checks read.
type raw struct {
	EventID, EventName, EventSource, SourceIPAddress, UserAgent, RecipientAccountID, VPCEndpointID string
	SessionCredentialFromConsole                                                                   string
	UserIdentity                                                                                   struct {
		Type, ARN, AccountID, UserName, InvokedBy, IdentityProvider string
	}
	RequestParameters map[string]any
	pattern           string
	index             int // in generated().Records
}

var (
	decodeOnce sync.Once
	decodedRaw []raw
	decodeErr  error
)

// decodedPerPattern is how many records of each pattern decoded holds:
// all of the rare patterns, enough of the bulk ones (decoding all 170k
// records costs minutes under the race detector).
const decodedPerPattern = 5000

// decoded is the generated corpus decoded, once for every test: the first
// decodedPerPattern records of every pattern, in time order.
func decoded(t *testing.T) []raw {
	t.Helper()
	decodeOnce.Do(func() {
		n := map[string]int{}
		for i, r := range generated().Records {
			p := generated().Pattern[i]
			if n[p]++; n[p] > decodedPerPattern {
				continue
			}
			var d raw
			if err := json.Unmarshal(r.JSON, &d); err != nil {
				decodeErr = fmt.Errorf("record %d: %w", i, err)
				return
			}
			d.pattern, d.index = p, i
			decodedRaw = append(decodedRaw, d)
		}
	})
	if decodeErr != nil {
		t.Fatal(decodeErr)
	}
	return decodedRaw
}

func (r raw) param(k string) string { s, _ := r.RequestParameters[k].(string); return s }

// TestPatterns checks every daily pattern is in the corpus with the shape
// that makes it hard for detectors: each check reads the records'
// fields, not the generator's labels alone.
func TestPatterns(t *testing.T) {
	racetest.SkipLong(t)
	recs := decoded(t)
	of := func(p string) []raw {
		var out []raw
		for _, r := range recs {
			if r.pattern == p {
				out = append(out, r)
			}
		}
		return out
	}
	any := func(rs []raw, f func(raw) bool) bool { return slices.ContainsFunc(rs, f) }
	checks := map[string]func(rs []raw) bool{
		benign.PatternSSOSignIn: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "AssumeRoleWithSAML" && strings.Contains(r.param("roleArn"), "AWSReservedSSO_") && kindOf(r.SourceIPAddress) == benign.NetHome
			}) && any(rs, func(r raw) bool {
				return r.EventName == "AssumeRoleWithSAML" && kindOf(r.SourceIPAddress) == benign.NetOffice
			})
		},
		benign.PatternSAMLSignIn: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return strings.HasSuffix(r.UserIdentity.IdentityProvider, "saml-provider/Okta") })
		},
		benign.PatternConsole: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.UserAgent == "console.amazonaws.com" && r.SessionCredentialFromConsole == "true"
			})
		},
		benign.PatternTravel: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return kindOf(r.SourceIPAddress) == benign.NetTravel })
		},
		benign.PatternMobile: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return kindOf(r.SourceIPAddress) == benign.NetMobile })
		},
		benign.PatternWhoamiS3Ls: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "GetCallerIdentity" && strings.HasSuffix(r.UserAgent, "command/sts.get-caller-identity")
			}) &&
				any(rs, func(r raw) bool {
					return r.EventName == "ListBuckets" && strings.HasSuffix(r.UserAgent, "command/s3.ls")
				})
		},
		benign.PatternTerraformPlan: func(rs []raw) bool {
			services := map[string]bool{}
			for _, r := range rs {
				if strings.Contains(r.UserAgent, "Terraform/") {
					services[r.EventSource] = true
				}
			}
			return len(services) >= 10 && any(rs, func(r raw) bool { return r.EventName == "AssumeRoleWithWebIdentity" })
		},
		benign.PatternTerraformApply: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "PutRolePolicy" && strings.Contains(r.UserIdentity.ARN, "github-terraform-apply")
			})
		},
		benign.PatternCDKBootstrap: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "AttachRolePolicy" && strings.HasSuffix(r.param("policyArn"), "/AdministratorAccess") &&
					strings.Contains(r.param("roleName"), "cfn-exec-role") && r.UserIdentity.InvokedBy == "cloudformation.amazonaws.com"
			})
		},
		benign.PatternCDKDeploy: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "ExecuteChangeSet" && strings.Contains(r.UserIdentity.ARN, "cdk-hnb659fds-deploy-role")
			})
		},
		benign.PatternCIWebIdentity: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "AssumeRoleWithWebIdentity" && strings.HasSuffix(r.UserIdentity.IdentityProvider, "token.actions.githubusercontent.com") && kindOf(r.SourceIPAddress) == benign.NetCI
			})
		},
		benign.PatternVPCEndpoint: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return strings.HasPrefix(r.VPCEndpointID, "vpce-") && strings.HasPrefix(r.SourceIPAddress, "10.")
			})
		},
		benign.PatternCrawler: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "AssumeRole" && r.UserIdentity.AccountID == benign.AccountCrawlerVendor && r.param("externalId") != "" && kindOf(r.SourceIPAddress) == benign.NetHosting
			})
		},
		benign.PatternProwler: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return strings.Contains(r.UserAgent, "prowler/") && strings.Contains(r.UserIdentity.ARN, "ProwlerScanRole")
			}) &&
				any(rs, func(r raw) bool {
					return r.EventName == "AssumeRole" && r.UserIdentity.AccountID != r.RecipientAccountID
				})
		},
		benign.PatternCrossAccount: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.EventName == "AssumeRole" && strings.HasPrefix(r.param("roleSessionName"), "i-0") && kindOf(r.SourceIPAddress) == benign.NetAWS && r.UserIdentity.AccountID != r.RecipientAccountID
			}) && any(rs, func(r raw) bool {
				return r.EventName == "AssumeRole" && r.UserIdentity.AccountID == benign.AccountManagement && r.RecipientAccountID != benign.AccountManagement
			})
		},
		benign.PatternServiceInvoked: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return r.UserIdentity.Type == "AWSService" && r.EventName == "AssumeRole" }) &&
				any(rs, func(r raw) bool { return r.UserIdentity.Type == "AssumedRole" && r.UserIdentity.InvokedBy != "" })
		},
		benign.PatternIdentityCenter: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return r.EventName == "CreateAccountAssignment" }) &&
				any(rs, func(r raw) bool { return r.EventName == "AttachManagedPolicyToPermissionSet" }) &&
				any(rs, func(r raw) bool {
					return r.EventName == "CreateRole" && strings.HasPrefix(r.param("roleName"), "AWSReservedSSO_") && r.UserIdentity.InvokedBy == "sso.amazonaws.com"
				})
		},
		benign.PatternKeyRotation: func(rs []raw) bool {
			self := func(name string) func(raw) bool {
				return func(r raw) bool { return r.EventName == name && r.param("userName") == r.UserIdentity.UserName }
			}
			return any(rs, self("CreateAccessKey")) && any(rs, func(r raw) bool { return self("UpdateAccessKey")(r) && r.param("status") == "Inactive" }) && any(rs, self("DeleteAccessKey"))
		},
		benign.PatternServiceLinkedRole: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return r.EventName == "CreateServiceLinkedRole" && r.param("aWSServiceName") != "" })
		},
		benign.PatternRootConsole: func(rs []raw) bool {
			return any(rs, func(r raw) bool { return r.UserIdentity.Type == "Root" && r.EventName == "ConsoleLogin" }) &&
				any(rs, func(r raw) bool {
					return r.UserAgent == "console.ec2.amazonaws.com" && r.SessionCredentialFromConsole == ""
				}) &&
				any(rs, func(r raw) bool { return strings.HasPrefix(r.UserAgent, "EC2ConsoleFrontend") })
		},
		benign.PatternAutomationKey: func(rs []raw) bool {
			return any(rs, func(r raw) bool {
				return r.UserIdentity.Type == "IAMUser" && kindOf(r.SourceIPAddress) == benign.NetAWS
			})
		},
	}
	for _, p := range benign.Patterns {
		check, ok := checks[p]
		if !ok {
			t.Errorf("pattern %s has no check", p)
			continue
		}
		if rs := of(p); len(rs) == 0 {
			t.Errorf("pattern %s: no records", p)
		} else if !check(rs) {
			t.Errorf("pattern %s: %d records, none of the shape it promises", p, len(rs))
		}
	}
}

// TestHomes checks each person signs in from one home ISP (a stable ASN),
// the baseline a per-person detector learns.
func TestHomes(t *testing.T) {
	racetest.SkipLong(t)
	homes := map[string]map[string]bool{}
	for _, r := range decoded(t) {
		if r.EventName != "AssumeRoleWithSAML" || kindOf(r.SourceIPAddress) != benign.NetHome {
			continue
		}
		if homes[r.UserIdentity.UserName] == nil {
			homes[r.UserIdentity.UserName] = map[string]bool{}
		}
		homes[r.UserIdentity.UserName][networkOf(r.SourceIPAddress)] = true
	}
	if len(homes) < 50 {
		t.Errorf("%d people signed in from home, want most of them", len(homes))
	}
	for who, nets := range homes {
		if len(nets) != 1 {
			t.Errorf("%s signed in from %d home networks, want their one ISP", who, len(nets))
		}
	}
}

// eventID is the record's eventID, read without decoding the record.
func eventID(js []byte) string {
	const key = `"eventID":"`
	i := bytes.Index(js, []byte(key))
	if i < 0 {
		return ""
	}
	rest := js[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}
