package builtin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/builtin"
	dt "github.com/iamsentry/iamsentry/internal/detectortest"
)

func newMFARemoved() detectors.Detector {
	return dt.Must(builtin.NewMFADeviceRemoved(detectors.DefaultConfig()))
}

// Generated records: alice (the kit's default caller) and her devices.
func deactivateMFA(user string, at time.Time) dt.Rec {
	params := map[string]any{"serialNumber": "arn:aws:iam::111122223333:mfa/" + user}
	if user != "" {
		params["userName"] = user
	}
	return dt.IAM("DeactivateMFADevice", at, params)
}

func deleteVirtualMFA(device string, at time.Time) dt.Rec {
	return dt.IAM("DeleteVirtualMFADevice", at, map[string]any{"serialNumber": "arn:aws:iam::111122223333:mfa/" + device})
}

func TestMFADeviceRemovedContract(t *testing.T) {
	dt.Run(t, dt.Contract{
		New: newMFARemoved,
		Loud: []dt.Rec{
			deactivateMFA("bob", t0).AsAssumedRole("helpdesk", "carol"),
			deleteVirtualMFA("bob", t0.Add(time.Minute)).AsAssumedRole("helpdesk", "carol"),
		},
		Quiet: []dt.Rec{
			deactivateMFA("bob", t0).AsAssumedRole("helpdesk", "carol").Failed("AccessDenied"),
			dt.IAM("EnableMFADevice", t0, map[string]any{"userName": "alice", "serialNumber": "arn:aws:iam::111122223333:mfa/alice"}),
			dt.IAM("CreateVirtualMFADevice", t0, map[string]any{"virtualMFADeviceName": "alice"}),
			dt.IAM("ResyncMFADevice", t0, map[string]any{"userName": "alice"}),
		},
	})
}

func TestMFADeviceRemovedSeverities(t *testing.T) { runMFASeverities(t, memoryStore) }

func TestMFADeviceRemovedOnRedis(t *testing.T) {
	runOnRedis(t, runMFASeverities)
}

// keyUse is a generated call of alice's key from ip.
func keyUse(at time.Time, ip string) dt.Rec {
	return dt.Base("s3.amazonaws.com", "ListBuckets", at).With("sourceIPAddress", ip)
}

func runMFASeverities(t *testing.T, newStore newStoreFunc) {
	var office []dt.Rec
	for i := range 10 {
		office = append(office, keyUse(day(i-10), "203.0.113.10"))
	}
	root := func(r dt.Rec) dt.Rec { return asRoot(r) }
	cases := []struct {
		name   string
		stream []dt.Rec
		want   []string // "<event> <severity>"
	}{
		{"another user's device, by an administrator's session, is HIGH",
			[]dt.Rec{deactivateMFA("bob", t0).AsAssumedRole("helpdesk", "carol")}, []string{"DeactivateMFADevice HIGH"}},
		{"another user's device, by another IAM user, is HIGH",
			[]dt.Rec{deactivateMFA("bob", t0)}, []string{"DeactivateMFADevice HIGH"}},
		{"deactivating and deleting one device is one incident",
			[]dt.Rec{deactivateMFA("bob", t0).AsAssumedRole("helpdesk", "carol"), deleteVirtualMFA("bob", t0.Add(time.Minute)).AsAssumedRole("helpdesk", "carol")},
			[]string{"DeactivateMFADevice HIGH"}},
		{"own device, self-service, is LOW",
			[]dt.Rec{deactivateMFA("alice", t0), deleteVirtualMFA("alice", t0.Add(time.Minute))}, []string{"DeactivateMFADevice LOW"}},
		{"own device naming no user is LOW",
			[]dt.Rec{deactivateMFA("", t0)}, []string{"DeactivateMFADevice LOW"}},
		{"root's own device is HIGH",
			[]dt.Rec{root(deleteVirtualMFA("root-account-mfa-device", t0))}, []string{"DeleteVirtualMFADevice HIGH"}},
		{"own device, key at home all along, is LOW",
			append(slices.Clone(office), deactivateMFA("alice", t0)), []string{"DeactivateMFADevice LOW"}},
		{"own device removed from a VPS new for the user is HIGH",
			append(slices.Clone(office), keyUse(t0, "192.0.2.50"), deactivateMFA("alice", t0.Add(10*time.Minute)).With("sourceIPAddress", "192.0.2.50")),
			[]string{"DeactivateMFADevice HIGH"}},
		// Judged by the removal's own network, which one earlier hour does
		// not make the user's: waiting an hour after the first use (the old
		// mark's window) does not lower it.
		{"own device removed from the VPS two hours after its first use is HIGH",
			append(slices.Clone(office), keyUse(t0, "192.0.2.50"), deactivateMFA("alice", t0.Add(2*time.Hour)).With("sourceIPAddress", "192.0.2.50")),
			[]string{"DeactivateMFADevice HIGH"}},
		{"own device removed from the office right after a VPS use is LOW",
			append(slices.Clone(office), keyUse(t0, "192.0.2.50"), deactivateMFA("alice", t0.Add(10*time.Minute))),
			[]string{"DeactivateMFADevice LOW"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := dt.NewWithStore(t, newStore(t), mfaHostingDetectors()...)
			var got []string
			for _, f := range dt.Only(builtin.MFADeviceRemovedID, h.Stream(c.stream...)) {
				got = append(got, f.EventName+" "+f.Severity.String())
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
	t.Run("shuffled", func(t *testing.T) {
		// A helpdesk session strips bob's and dave's devices (deactivate,
		// then delete) within minutes: two HIGH incidents in any order.
		var stream []dt.Rec
		for i, u := range []string{"bob", "dave"} {
			at := t0.Add(time.Duration(i) * 3 * time.Minute)
			stream = append(stream, deactivateMFA(u, at).AsAssumedRole("helpdesk", "carol"),
				deleteVirtualMFA(u, at.Add(time.Minute)).AsAssumedRole("helpdesk", "carol"))
		}
		for seed := range uint64(6) {
			h := dt.NewWithStore(t, newStore(t), newMFARemoved())
			var got []string
			for _, f := range dt.Only(builtin.MFADeviceRemovedID, scoreInBatches(h, deliver(stream, detectors.AllowedLateness, seed), seed)) {
				got = append(got, f.Evidence["target_user"]+" "+f.Severity.String())
			}
			slices.Sort(got)
			if want := []string{"bob HIGH", "dave HIGH"}; !slices.Equal(got, want) {
				t.Errorf("seed %d: rule: shuffled delivery gives the incidents of the sorted stream; got %v, want %v", seed, got, want)
			}
		}
	})
}
