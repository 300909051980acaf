package builtin

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/policy"
	"github.com/iamsentry/iamsentry/state"
)

// The judgements of credential-persistence that read a policy or pair two
// records: federation tokens, identity providers and the roles trusting
// them, Roles Anywhere trust anchors and profiles.

// federationToken judges GetFederationToken: an IAM user (or root) minting
// a federated session that outlives a revoked key's session. A session
// policy granting every action, NotAction, every action of IAM, STS or
// Organizations, iam:PassRole on any role, or a broad managed policy is
// HIGH; a narrow one is LOW (self_service).
func (d *CredentialPersistence) federationToken(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if t := r.UserIdentity.Type; t != "IAMUser" && t != "Root" {
		return nil
	}
	var p struct {
		Name       string          `json:"name"`
		Policy     json.RawMessage `json:"policy"`
		PolicyARNs []struct {
			ARN string `json:"arn"`
		} `json:"policyArns"`
	}
	_ = r.Params(&p) // an odd shape is judged as a token without a session policy
	var broad []string
	if len(p.Policy) > 0 && string(p.Policy) != "null" {
		sum, err := policy.Analyze(p.Policy)
		if err != nil {
			broad = append(broad, "a session policy that could not be analyzed ("+err.Error()+")")
		}
		for _, g := range sum.Grants {
			switch g.Kind {
			case policy.KindAdmin:
				broad = append(broad[:0], g.String()) // says it all
			case policy.KindNotAction, policy.KindServiceWide, policy.KindPassRole:
				if !sum.Has(policy.KindAdmin) {
					broad = append(broad, g.String())
				}
			}
		}
	}
	// Customer managed policies are judged by the summary policy-weakened
	// keeps of their default version, when it saw one.
	var stored []*state.Future[[]byte]
	var storedARNs []string
	for _, a := range p.PolicyARNs {
		switch {
		case awsManaged[awsManagedName(a.ARN)].level == levelAdmin:
			// The admin-equivalent AWS managed policies (admin_equivalent.go).
			broad = append(broad, "managed policy "+a.ARN)
		case awsManagedName(a.ARN) == "" && strings.Contains(a.ARN, ":policy/") && len(stored) < maxSessionPolicies:
			stored = append(stored, b.Get(ev.Key(a.ARN, "policy:default")))
			storedARNs = append(storedARNs, a.ARN)
		}
	}
	habit := b.ReadMark(ev.Key("cp:"+r.StablePrincipal(), "broad-federation"))
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		for i, fut := range stored {
			v, err := fut.Get()
			if err != nil {
				return nil, err
			}
			if m, ok := decodeRemembered(v); ok && m.known {
				for _, g := range m.summary.Grants {
					if g.Kind == policy.KindAdmin || g.Kind == policy.KindNotAction || g.Kind == policy.KindServiceWide {
						broad = append(broad, "customer managed policy "+storedARNs[i]+" granting "+g.String())
						break
					}
				}
			}
		}
		fs, err := d.federationFinding(r, p.Name, broad)
		if len(broad) == 0 || err != nil {
			return fs, err
		}
		return d.brokerHabit(ev, habit, fs)
	})
}

// Habits of federation brokers: a user that has minted broad federation
// tokens for at least brokerHabit (a legacy SSO broker, a vending service)
// is doing its job; its broad tokens are LOW. The habit is remembered for
// brokerMemory after the last broad token; a stolen broker key used from
// elsewhere is access-key-new-location's to catch.
const (
	brokerHabit  = 7 * 24 * time.Hour
	brokerMemory = 35 * 24 * time.Hour
)

func (d *CredentialPersistence) brokerHabit(ev *detectors.Event, habit *state.Future[state.Mark], fs []detectors.Finding) ([]detectors.Finding, error) {
	m, err := habit.Get()
	if err != nil {
		return nil, err
	}
	r := ev.Record
	f := &fs[0]
	f.Marks = append(f.Marks, detectors.SetMark{Key: ev.Key("cp:"+r.StablePrincipal(), "broad-federation"),
		At: r.EventTime, Keep: state.KeepEarliest, TTL: brokerMemory})
	if m.Set && r.EventTime.Sub(m.At) >= brokerHabit {
		f.Severity, f.Score = detectors.SeverityLow, severityScores[detectors.SeverityLow]
		f.Evidence["broker_since"] = m.At.UTC().Format(time.RFC3339)
		f.Explanation += fmt.Sprintf("; LOW: this user has minted broad federation tokens since %s, a broker's habit",
			m.At.UTC().Format(time.RFC3339))
	}
	return fs, nil
}

// maxSessionPolicies bounds the managed session policies whose stored
// summaries one federation token reads (the API accepts up to 10).
const maxSessionPolicies = 10

func (d *CredentialPersistence) federationFinding(r *cloudtrail.Record, name string, broad []string) ([]detectors.Finding, error) {
	what := fmt.Sprintf("a federation token for federated user %q", cmp.Or(name, "(not recorded)"))
	if len(broad) == 0 {
		if !d.opts.SelfService {
			return nil, nil
		}
		f := d.finding(r, detectors.SeverityLow, what, "its session policy grants nothing known to be broad, but the "+
			"token survives the revocation of the key that minted it (up to 36 hours)")
		f.Evidence["federated_user"] = name
		return []detectors.Finding{f}, nil
	}
	f := d.finding(r, detectors.SeverityHigh, what, "its session policy grants "+strings.Join(broad, "; ")+
		", so the session keeps all of its user's permissions for up to 36 hours, even after the user's keys are revoked")
	f.Evidence["federated_user"] = name
	f.Evidence["session_policy_grants"] = strings.Join(broad, "; ")
	return []detectors.Finding{f}, nil
}

// markTTL keeps a pairing mark for the pair window plus the allowed
// lateness of delivery, with room for retries.
func (d *CredentialPersistence) markTTL() time.Duration {
	return d.opts.PairWindow + time.Hour + detectors.AllowedLateness
}

// near reports whether mark m lies within the pair window of t.
func (d *CredentialPersistence) near(m state.Mark, t time.Time) bool {
	if !m.Set {
		return false
	}
	gap := t.Sub(m.At)
	return gap <= d.opts.PairWindow && -gap <= d.opts.PairWindow
}

func providerKey(ev *detectors.Event, arn, name string) state.Key {
	return ev.Key("idp:"+strings.ToLower(arn), name)
}

// providerARN reads the provider a Create/Update*Provider record names,
// rebuilding the ARN from the request when the response is missing.
func providerARN(r *cloudtrail.Record) string {
	var p struct {
		URL     string `json:"url"`
		Name    string `json:"name"`
		SAMLARN string `json:"sAMLProviderArn"`
	}
	_ = r.Params(&p)
	var resp struct {
		OIDC string `json:"openIDConnectProviderArn"`
		SAML string `json:"sAMLProviderArn"`
	}
	_ = r.Response(&resp)
	if a := cmp.Or(resp.OIDC, resp.SAML, p.SAMLARN); a != "" {
		return a
	}
	partition := "aws"
	if f := strings.SplitN(r.UserIdentity.ARN, ":", 3); len(f) == 3 && f[1] != "" {
		partition = f[1]
	}
	prefix := "arn:" + partition + ":iam::" + eventAccount(r)
	switch {
	case p.URL != "":
		return prefix + ":oidc-provider/" + strings.TrimSuffix(strings.TrimPrefix(p.URL, "https://"), "/")
	case p.Name != "":
		return prefix + ":saml-provider/" + p.Name
	}
	return ""
}

// newProvider judges a new (or re-pointed) SAML or OIDC identity provider:
// MEDIUM on its own, since whoever controls the IdP can become any role
// that trusts it; HIGH when a role's trust named it within the pair
// window.
func (d *CredentialPersistence) newProvider(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.UserIdentity.InvokedBy == "sso.amazonaws.com" {
		return nil // IAM Identity Center managing its own AWSSSO_…_DO_NOT_DELETE provider
	}
	arn := providerARN(r)
	if arn == "" {
		return one(d.finding(r, detectors.SeverityMedium, "an identity provider CloudTrail did not name",
			"a new identity provider lets whoever controls it sign in as any role that trusts it"))
	}
	trusted := b.ReadMark(providerKey(ev, arn, "trusted"))
	b.Mark(providerKey(ev, arn, "created"), r.EventTime, state.KeepLatest, d.markTTL())
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		m, err := trusted.Get()
		if err != nil {
			return nil, err
		}
		what := "identity provider " + arn
		if d.near(m, r.EventTime) {
			f := d.finding(r, detectors.SeverityHigh, what, fmt.Sprintf("a role's trust policy named this provider at %s, "+
				"within %s: whoever controls the provider can now become that role", m.At.UTC().Format(time.RFC3339), detectors.Days(d.opts.PairWindow)))
			f.Evidence["provider"], f.Evidence["trusted_at"] = arn, m.At.UTC().Format(time.RFC3339)
			return []detectors.Finding{f}, nil
		}
		f := d.finding(r, detectors.SeverityMedium, what, "a new identity provider lets whoever controls it sign in as "+
			"any role that trusts it; HIGH if a role trusts it within "+detectors.Days(d.opts.PairWindow))
		f.Evidence["provider"] = arn
		return []detectors.Finding{f}, nil
	})
}

// maxProviders bounds the providers of one trust policy the detector pairs.
const maxProviders = 4

// trustNamesProvider pairs a trust policy with the account's identity
// providers: it raises HIGH when the policy names a provider created
// within the pair window, and otherwise nothing (policy-weakened judges
// what the trust grants).
func (d *CredentialPersistence) trustNamesProvider(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	var p struct {
		RoleName string          `json:"roleName"`
		Create   json.RawMessage `json:"assumeRolePolicyDocument"`
		Update   json.RawMessage `json:"policyDocument"`
	}
	if r.Params(&p) != nil {
		return nil
	}
	t, err := policy.ReadTrust([]byte(cmp.Or(string(p.Create), string(p.Update), "null")))
	if err != nil {
		return nil
	}
	var providers []string
	for _, f := range t.Federated() {
		if strings.Contains(f, ":oidc-provider/") || strings.Contains(f, ":saml-provider/") {
			providers = append(providers, f)
		}
	}
	if len(providers) > maxProviders {
		providers = providers[:maxProviders]
	}
	if len(providers) == 0 {
		return nil
	}
	created := make([]*state.Future[state.Mark], len(providers))
	for i, prov := range providers {
		created[i] = b.ReadMark(providerKey(ev, prov, "created"))
		b.Mark(providerKey(ev, prov, "trusted"), r.EventTime, state.KeepLatest, d.markTTL())
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		var fresh, when []string
		for i, fut := range created {
			m, err := fut.Get()
			if err != nil {
				return nil, err
			}
			if d.near(m, r.EventTime) {
				fresh = append(fresh, providers[i])
				when = append(when, m.At.UTC().Format(time.RFC3339))
			}
		}
		if len(fresh) == 0 {
			return nil, nil
		}
		f := d.finding(r, detectors.SeverityHigh, fmt.Sprintf("the trust policy of role %q names identity provider %s",
			p.RoleName, strings.Join(fresh, ", ")), fmt.Sprintf("the provider was created at %s, within %s: a new identity "+
			"provider trusted by a role is a way back in that survives every key rotation", strings.Join(when, ", "), detectors.Days(d.opts.PairWindow)))
		f.Evidence["provider"], f.Evidence["role"], f.Evidence["provider_created_at"] = strings.Join(fresh, ", "), p.RoleName, strings.Join(when, ", ")
		return []detectors.Finding{f}, nil
	})
}
