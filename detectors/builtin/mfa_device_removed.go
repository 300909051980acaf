package builtin

import (
	"fmt"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// MFADeviceRemovedID is the stable id of the mfa-device-removed detector.
const MFADeviceRemovedID = "mfa-device-removed"

// MFADeviceRemoved raises a finding when an MFA device is taken from an IAM
// user (DeactivateMFADevice) or a virtual MFA device is deleted
// (DeleteVirtualMFADevice), which leaves a password or a key as the whole
// of the account:
//
//   - HIGH for another user's device: a caller that is not that user (an
//     administrator's session, another user, root) removing MFA is how a
//     takeover prepares a password-only way in;
//   - HIGH for an IAM user's own device removed from a hosting, VPN or Tor
//     network new for the user (used in fewer than 3 hours of the last ten
//     days): whoever works from a fresh VPS is removing the second factor.
//     Judged from the removal record alone (mfa_device_removed_hosting.go),
//     so batching, arrival order and replicas do not change it; the same
//     removal from the user's office stays LOW, whatever the user's key did
//     from elsewhere (access-key-new-location raises that);
//   - HIGH for root's own device: root is then a password alone;
//   - LOW for the caller's own device otherwise: users replace phones.
//
// One incident per target user (or device) and day, so deactivating and
// deleting one device is one finding. Failed calls are quiet. A virtual
// device is named by its serial number, which names the device, not its
// user: the device's name is taken as the user's, as AWS's self-service
// MFA policy requires (mfa/${aws:username}).
//
// An earlier version escalated a removal within the hour after
// access-key-new-location's mark on the key. That mark is written after
// its batch: a use from the new place and the removal in one batch, or on
// two replicas, never escalated, and whether they did depended on arrival
// order. The removal's own network replaced it.
type MFADeviceRemoved struct {
	info     detectors.Info
	settings *detectors.Settings
}

// NewMFADeviceRemoved returns the detector. It takes no options.
func NewMFADeviceRemoved(cfg detectors.Config) (detectors.Detector, error) {
	return &MFADeviceRemoved{settings: cfg.OrgSettings(), info: detectors.Info{
		ID:    MFADeviceRemovedID,
		Title: "MFA device removed from an IAM user",
		Description: "An MFA device was deactivated (DeactivateMFADevice) or a virtual MFA device deleted " +
			"(DeleteVirtualMFADevice). HIGH when the caller is not the device's user, or when an IAM user's own device " +
			"is removed from a hosting, VPN or Tor network new for the user (used in fewer than 3 hours of the last 10 days), " +
			"judged from the removal alone whatever the arrival order; " +
			"HIGH for root's own device; LOW for a user removing its own device otherwise. One incident per user and day; failed calls are quiet.",
		Severity:   detectors.SeverityHigh,
		Techniques: []string{"T1556.006", "T1098"},
	}}, nil
}

// Info implements Detector.
func (d *MFADeviceRemoved) Info() detectors.Info { return d.info }

// mfaRemoval is one removal being judged.
type mfaRemoval struct {
	d       *MFADeviceRemoved
	ev      *detectors.Event
	account string
	target  string // the user (or the virtual device's name)
	device  string // the serial number
	self    bool
	// net is the removal's hosting network when it came from one, and
	// netHours the hours the user used it before.
	net      string
	netHours *state.Future[state.Window]
}

// Observe implements Detector.
func (d *MFADeviceRemoved) Observe(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	if r.EventSource != "iam.amazonaws.com" || r.Failed() ||
		(r.EventName != "DeactivateMFADevice" && r.EventName != "DeleteVirtualMFADevice") {
		return d.observeUse(ev, b)
	}
	var p struct {
		UserName     string `json:"userName"`
		SerialNumber string `json:"serialNumber"`
	}
	_ = r.Params(&p) // an odd shape leaves the names empty: judged as the caller's own
	m := &mfaRemoval{d: d, ev: ev, account: r.RecipientAccountID, device: p.SerialNumber}
	if m.account == "" {
		m.account = r.AccountID()
	}
	m.target = p.UserName
	if m.target == "" && r.EventName == "DeleteVirtualMFADevice" {
		m.target = deviceName(p.SerialNumber)
	}
	m.self = m.isSelf()
	if id := mfaPrincipal(r); m.self && id != "" {
		if net, ok := d.hostingNet(ev); ok {
			m.observeRemovalNet(b, id, net)
		}
	}
	return m
}

// deviceName is the last segment of a virtual MFA device's serial number
// (arn:aws:iam::111122223333:mfa/path/name → name), or "" for a hardware
// device's serial.
func deviceName(serial string) string {
	_, rest, ok := strings.Cut(serial, ":mfa/")
	if !ok {
		return ""
	}
	return rest[strings.LastIndexByte(rest, '/')+1:]
}

// isSelf reports whether the caller removes its own device: an IAM user
// naming itself or no one, or root acting on root's device.
func (m *mfaRemoval) isSelf() bool {
	u := &m.ev.Record.UserIdentity
	switch u.Type {
	case "IAMUser":
		name := signInUser(m.ev.Record)
		return m.target == "" || m.target == name
	case "Root":
		return m.target == "" || strings.HasPrefix(m.target, "root")
	}
	return false
}

// Findings implements Evaluation.
func (m *mfaRemoval) Findings() ([]detectors.Finding, error) {
	r := m.ev.Record
	sev, score, why := detectors.SeverityLow, 25, "the caller removed its own device, as when replacing a phone; "+
		"until a new one is enabled a password or key alone opens the account"
	switch {
	case m.self && r.UserIdentity.Type == "Root":
		sev, score, why = detectors.SeverityHigh, 80, "root's own second factor was removed: root is then a password alone"
	case !m.self:
		sev, score, why = detectors.SeverityHigh, 80, fmt.Sprintf("the caller (%s) is not the device's user: "+
			"removing someone else's MFA prepares a password-only way into that account", r.UserIdentity.Type)
	case m.netHours != nil:
		w, err := m.netHours.Get()
		if err != nil {
			return nil, err
		}
		if w.Count < reconHostingKnownHours {
			sev, score, why = detectors.SeverityHigh, 85, fmt.Sprintf("it came from hosting network %s, which the user "+
				"called from in %d hours of the last %s: whoever works from there is removing the second factor",
				m.net, w.Count, detectors.Days(mfaHostingHabit))
		}
	}
	target := m.target
	if target == "" {
		target = signInUser(r)
	}
	f := detectors.NewFinding(m.d.info, r, sev, score)
	f.Explanation = fmt.Sprintf("%s called %s from %s for the MFA device %q of user %q in account %s: %s",
		detectors.Actor(r), r.EventName, r.SourceIPAddress, m.device, target, m.account, why)
	f.Evidence["target_user"] = target
	f.Evidence["serial_number"] = m.device
	f.Evidence["self"] = fmt.Sprint(m.self)
	if m.net != "" {
		f.Evidence["hosting_network"] = m.net
	}
	day := state.BucketStart(r.EventTime, 24*time.Hour).Format(time.DateOnly)
	f.Once = detectors.OncePer(m.ev.Key(detectors.IAMEntity(m.account, "user", target),
		"mfa-removed:"+sev.String()+":"+day), 24*time.Hour)
	return []detectors.Finding{f}, nil
}
