package benign_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/internal/benign"
)

// generated is the default corpus, built once for the tests of this file.
var generated = benign.Generate(benign.Options{Seed: 7})

func TestDeterministic(t *testing.T) {
	again := benign.Generate(benign.Options{Seed: 7})
	if len(again.Records) != len(generated.Records) {
		t.Fatalf("same seed, %d then %d records", len(generated.Records), len(again.Records))
	}
	for i := range again.Records {
		if !bytes.Equal(again.Records[i].JSON, generated.Records[i].JSON) || again.Pattern[i] != generated.Pattern[i] {
			t.Fatalf("same seed, record %d differs:\n%s\n%s", i, generated.Records[i].JSON, again.Records[i].JSON)
		}
	}
	other := benign.Generate(benign.Options{Seed: 8, Days: 2})
	if bytes.Equal(other.Records[0].JSON, generated.Records[0].JSON) {
		t.Error("another seed gave the same first record")
	}
}

// TestOrganisation checks the corpus is the organisation the benchmark
// promises: at least 100 people over 30 days in at least three accounts,
// records sorted with unique ids, every one parsing.
func TestOrganisation(t *testing.T) {
	c := generated
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
	ids, accounts := map[string]bool{}, map[string]bool{}
	for i, r := range c.Records {
		if i > 0 && r.Time.Before(c.Records[i-1].Time) {
			t.Fatalf("record %d out of time order", i)
		}
		rec, err := cloudtrail.Parse(r.JSON, cloudtrail.Options{})
		if err != nil {
			t.Fatalf("record %d does not parse: %v\n%s", i, err, r.JSON)
		}
		if ids[rec.EventID] {
			t.Fatalf("event id %s twice", rec.EventID)
		}
		ids[rec.EventID] = true
		accounts[rec.RecipientAccountID] = true
	}
	if len(accounts) < 3 {
		t.Errorf("records in %d accounts, want >= 3", len(accounts))
	}
}

// raw is the part of a record the pattern checks read.
type raw struct {
	EventName, EventSource, SourceIPAddress, UserAgent, RecipientAccountID, VPCEndpointID string
	SessionCredentialFromConsole                                                          string
	UserIdentity                                                                          struct {
		Type, ARN, AccountID, UserName, InvokedBy, IdentityProvider string
	}
	RequestParameters map[string]any
	pattern           string
}

func decoded(t *testing.T, c *benign.Corpus) []raw {
	t.Helper()
	out := make([]raw, len(c.Records))
	for i, r := range c.Records {
		if err := json.Unmarshal(r.JSON, &out[i]); err != nil {
			t.Fatal(err)
		}
		out[i].pattern = c.Pattern[i]
	}
	return out
}

func (r raw) param(k string) string { s, _ := r.RequestParameters[k].(string); return s }

// kindOf is the kind of network addr is in ("" outside every one).
func kindOf(addr string) string {
	for _, n := range benign.Networks {
		if prefixContains(n.Prefix, addr) {
			return n.Kind
		}
	}
	return ""
}

// TestPatterns checks every daily pattern is in the corpus with the shape
// that makes it hard for detectors: each check reads the records'
// fields, not the generator's labels alone.
func TestPatterns(t *testing.T) {
	recs := decoded(t, generated)
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
	homes := map[string]map[string]bool{}
	for _, r := range decoded(t, generated) {
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
