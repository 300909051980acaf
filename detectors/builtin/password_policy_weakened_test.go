package builtin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

// The shared data holds no UpdateAccountPasswordPolicy record; these
// streams are generated, with the request shape of the IAM API
// (UpdateAccountPasswordPolicy's parameters in lower camel case).

func newPwPolicy() detectors.Detector {
	return dt.Must(builtin.NewPasswordPolicyWeakened(detectors.DefaultConfig()))
}

// strongPolicy is a CIS-conforming policy.
func strongPolicy() map[string]any {
	return map[string]any{"minimumPasswordLength": 14, "requireSymbols": true, "requireNumbers": true,
		"requireUppercaseCharacters": true, "requireLowercaseCharacters": true, "allowUsersToChangePassword": true,
		"maxPasswordAge": 90, "passwordReusePrevention": 24}
}

func pwUpdate(at time.Time, change map[string]any, drop ...string) dt.Rec {
	p := strongPolicy()
	for k, v := range change {
		p[k] = v
	}
	for _, k := range drop {
		delete(p, k)
	}
	return dt.IAM("UpdateAccountPasswordPolicy", at, p).AsAssumedRole("admin", "carol")
}

func TestPasswordPolicyWeakenedContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New:  newPwPolicy,
		Loud: []dt.Rec{pwUpdate(t0, nil), pwUpdate(t0.Add(time.Hour), map[string]any{"minimumPasswordLength": 8})},
		Quiet: []dt.Rec{
			pwUpdate(t0, nil),
			pwUpdate(t0.Add(time.Hour), map[string]any{"minimumPasswordLength": 16}),
			pwUpdate(t0.Add(2*time.Hour), map[string]any{"minimumPasswordLength": 16, "maxPasswordAge": 60}),
			pwUpdate(t0.Add(3*time.Hour), map[string]any{"minimumPasswordLength": 8}).Failed("AccessDenied"),
			dt.IAM("GetAccountPasswordPolicy", t0.Add(4*time.Hour), nil),
		},
	})
}

func TestPasswordPolicyWeakened(t *testing.T) { runPwPolicy(t, memoryStore) }

func TestPasswordPolicyWeakenedOnRedis(t *testing.T) {
	runOnRedis(t, runPwPolicy)
}

func runPwPolicy(t *testing.T, newStore newStoreFunc) {
	strong := pwUpdate(day(-30), nil)
	cases := []struct {
		name   string
		stream []dt.Rec
		want   []string // severities of the last record's findings
	}{
		{"shorter minimum length is MEDIUM", []dt.Rec{strong, pwUpdate(t0, map[string]any{"minimumPasswordLength": 12})}, []string{"MEDIUM"}},
		{"a dropped requirement is MEDIUM", []dt.Rec{strong, pwUpdate(t0, nil, "requireSymbols")}, []string{"MEDIUM"}},
		{"passwords that never expire are MEDIUM", []dt.Rec{strong, pwUpdate(t0, nil, "maxPasswordAge")}, []string{"MEDIUM"}},
		{"reuse allowed is MEDIUM", []dt.Rec{strong, pwUpdate(t0, map[string]any{"passwordReusePrevention": 1})}, []string{"MEDIUM"}},
		{"deletion is MEDIUM", []dt.Rec{strong, dt.IAM("DeleteAccountPasswordPolicy", t0, nil)}, []string{"MEDIUM"}},
		{"deletion with no policy known is MEDIUM", []dt.Rec{dt.IAM("DeleteAccountPasswordPolicy", t0, nil)}, []string{"MEDIUM"}},
		{"tightening is quiet", []dt.Rec{pwUpdate(day(-30), map[string]any{"minimumPasswordLength": 10}), pwUpdate(t0, nil)}, nil},
		{"the same policy again is quiet", []dt.Rec{strong, pwUpdate(t0, nil)}, nil},
		{"a first strong policy is quiet", []dt.Rec{pwUpdate(t0, nil)}, nil},
		{"a first short policy is LOW", []dt.Rec{pwUpdate(t0, map[string]any{"minimumPasswordLength": 10})}, []string{"LOW"}},
		{"a first policy of length alone is MEDIUM", []dt.Rec{dt.IAM("UpdateAccountPasswordPolicy", t0, map[string]any{"minimumPasswordLength": 8})}, []string{"MEDIUM"}},
		{"compared with the policy just before, not the first", []dt.Rec{pwUpdate(day(-60), map[string]any{"minimumPasswordLength": 20}),
			strong, pwUpdate(t0, map[string]any{"minimumPasswordLength": 16})}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), newPwPolicy())
			h.Stream(c.stream[:len(c.stream)-1]...)
			var got []string
			for _, f := range dt.Only(builtin.PasswordPolicyWeakenedID, h.Stream(c.stream[len(c.stream)-1])) {
				got = append(got, f.Severity.String())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("shuffled", func(t *testing.T) {
		// Within ten minutes an attacker sets a strong-looking policy of
		// length 14 after the org's 20, then drops every requirement: two
		// weakenings. Whatever the order, each change raises one MEDIUM
		// incident; a change scored before the policy it replaced may add
		// a LOW of its own judgement.
		base := pwUpdate(day(-10), map[string]any{"minimumPasswordLength": 20})
		attack := []dt.Rec{
			pwUpdate(t0, nil),
			pwUpdate(t0.Add(10*time.Minute), nil, "requireSymbols", "requireNumbers", "requireUppercaseCharacters", "requireLowercaseCharacters"),
		}
		for seed := range uint64(8) {
			h := dt.NewWithStore(t, newStore(t), newPwPolicy())
			h.Stream(base)
			var mediums []string
			for _, f := range dt.Only(builtin.PasswordPolicyWeakenedID, scoreInBatches(h, deliver(attack, detectors.AllowedLateness, seed), seed)) {
				if f.Severity == detectors.SeverityMedium {
					mediums = append(mediums, f.Evidence["changed_at"])
				}
			}
			slices.Sort(mediums)
			want := []string{t0.Format(time.RFC3339), t0.Add(10 * time.Minute).Format(time.RFC3339)}
			if !slices.Equal(mediums, want) {
				t.Errorf("seed %d: rule: one MEDIUM per weakening in any order; got %v, want %v", seed, mediums, want)
			}
		}
	})
}

// TestPasswordPolicyWeakenedPantherCases: Panther's password policy
// discovery tests (reads of the policy) are quiet here: reading the
// policy weakens nothing.
func TestPasswordPolicyWeakenedPantherCases(t *testing.T) {
	checkPantherSeverities(t, "password-policy-weakened.jsonl", newPwPolicy, nil)
}
