package builtin_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
	"github.com/iamsentry/iamsentry/internal/redistest/rstore"
	"github.com/iamsentry/iamsentry/state"
)

// Generated pair scenarios of credential-persistence: each must raise its
// HIGH in every delivery order within the allowed lateness, and its quiet
// twin (the halves too far apart, or the role not privileged) must not.

type cpScenario struct {
	name   string
	stream []dt.Rec
	high   bool // a HIGH finding must be raised, whatever the order
}

func cpScenarios() []cpScenario {
	tr := func(at time.Time) dt.Rec { return createRole("ci", ghTrust("repo:acme/x:*"), at) }
	samlTrust := func(at time.Time) dt.Rec {
		return updateTrust("sso-admin", doc(`{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:saml-provider/corp-idp"},"Action":"sts:AssumeRoleWithSAML"}`), at)
	}
	attachAdmin := dt.IAM("AttachRolePolicy", t0.Add(-time.Hour), map[string]any{"roleName": "app", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"})
	return []cpScenario{
		{name: "OIDC provider, then a role trusting it", high: true, stream: []dt.Rec{cpOIDCProvider(t0), tr(t0.Add(10 * time.Minute))}},
		{name: "a role trusting a provider, then the provider", high: true, stream: []dt.Rec{tr(t0), cpOIDCProvider(t0.Add(2 * time.Minute))}},
		{name: "SAML provider named by a trust update", high: true, stream: []dt.Rec{cpSAMLProvider(t0), samlTrust(t0.Add(time.Hour))}},
		{name: "quiet: a trust naming a provider created days before", stream: []dt.Rec{cpOIDCProvider(t0), tr(t0.Add(72 * time.Hour))}},
		{name: "trust anchor, then a profile for a privileged role", high: true, stream: []dt.Rec{cpAnchor(t0), cpProfile(t0.Add(time.Minute), adminRoleARN)}},
		{name: "profile for a privileged role, then a trust anchor", high: true, stream: []dt.Rec{cpProfile(t0, adminRoleARN), cpAnchor(t0.Add(time.Minute))}},
		{name: "profile for a role made admin by AdministratorAccess, then an anchor", high: true,
			stream: []dt.Rec{attachAdmin, cpProfile(t0, appRoleARN), cpAnchor(t0.Add(30 * time.Minute))}},
		{name: "quiet: trust anchor and a profile for an ordinary role", stream: []dt.Rec{cpAnchor(t0), cpProfile(t0.Add(time.Minute), appRoleARN)}},
		{name: "quiet: a profile for a privileged role in another region", stream: []dt.Rec{
			cpAnchor(t0), cpProfile(t0.Add(time.Minute), adminRoleARN).With("awsRegion", "eu-west-1")}},
	}
}

// inDeliveryOrders runs check on stream as recorded and in orders-1
// delivery orders shuffled within the allowed lateness.
func inDeliveryOrders(t *testing.T, name string, stream []dt.Rec, orders uint64, check func(t *testing.T, stream []dt.Rec)) {
	for seed := range orders {
		s := stream
		if seed > 0 {
			s = shuffleWithin(stream, detectors.AllowedLateness, seed)
		}
		t.Run(fmt.Sprintf("%s/order-%d", name, seed), func(t *testing.T) { check(t, s) })
	}
}

func runCPScenarios(t *testing.T, newStore newStoreFunc) {
	for _, sc := range cpScenarios() {
		inDeliveryOrders(t, sc.name, sc.stream, 4, func(t *testing.T, stream []dt.Rec) {
			spike := dt.Must(builtin.NewPrivilegedRoleAssumptionSpike(det3Config(orgSettings, "")))
			h := dt.NewWithStore(t, newStore(t), spike, newCP(t, orgSettings, ""))
			high := 0
			for _, f := range dt.Only(builtin.CredentialPersistenceID, h.Stream(stream...)) {
				if f.Severity >= detectors.SeverityHigh {
					high++
				}
			}
			if sc.high && high != 1 {
				t.Errorf("want exactly one HIGH finding in this order, got %d", high)
			}
			if !sc.high && high != 0 {
				t.Errorf("want no HIGH finding, got %d", high)
			}
		})
	}
}

func TestCredentialPersistenceScenarios(t *testing.T) { runCPScenarios(t, memoryStore) }

func TestCredentialPersistenceOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a redis-server")
	}
	open := rstore.Factory(t)
	runCPScenarios(t, func(tb testing.TB) state.Store { return open(tb) })
}
