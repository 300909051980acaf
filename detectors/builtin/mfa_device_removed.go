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

// mfaNewLocationWindow is how long after its key was used from a new place
// a user removing its own MFA counts as the new place's doing.
const mfaNewLocationWindow = time.Hour

// MFADeviceRemoved raises a finding when an MFA device is taken from an IAM
// user (DeactivateMFADevice) or a virtual MFA device is deleted
// (DeleteVirtualMFADevice), which leaves a password or a key as the whole
// of the account:
//
//   - HIGH for another user's device: a caller that is not that user (an
//     administrator's session, another user, root) removing MFA is how a
//     takeover prepares a password-only way in;
//   - HIGH for an IAM user's own device when the user worked from a
//     hosting, VPN or Tor network new for it (not used in several hours
//     of the last ten days) within about the hour around the removal, the
//     removal included: judged the same whichever record arrives first,
//     in one batch or on two replicas (mfa_device_removed_hosting.go); a
//     use scored after the removal raises the removal's incident to HIGH
//     on itself;
//   - HIGH for the caller's own device when its access key was used from a
//     place new for it within the hour before (detectors.NewLocationMark,
//     set after access-key-new-location's batch: it only adds to the
//     above, for new places that are not hosting networks);
//   - HIGH for root's own device: root is then a password alone;
//   - LOW for the caller's own device otherwise: users replace phones.
//
// One incident per target user (or device) and day, so deactivating and
// deleting one device is one finding. Failed calls are quiet. A virtual
// device is named by its serial number, which names the device, not its
// user: the device's name is taken as the user's, as AWS's self-service
// MFA policy requires (mfa/${aws:username}).
//
// A console session's calls carry a session key that the new-location
// mark rarely names (the sign-in itself has no key), so the self-removal
// HIGH is for access keys; a console takeover is new-location's and the
// story's to tie together.
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
			"(DeleteVirtualMFADevice). HIGH when the caller is not the device's user, when the user worked from a hosting, " +
			"VPN or Tor network new for it (fewer than 3 hours in 10 days) within about the hour around the removal, in any " +
			"arrival order, or when the user's own access key was used from a new place within the hour before (the " +
			"access-key-new-location mark), " +
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
	newLoc  *state.Future[state.Mark]
	// hosting is the user's hosting set read around a self-removal
	// (holding the removal's own network when it came from a hosting one).
	hosting *state.Future[state.Window]
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
	if m.self && r.UserIdentity.AccessKeyID != "" {
		m.newLoc = b.ReadMark(detectors.NewLocationMark(ev, r.UserIdentity.AccessKeyID))
	}
	if id := mfaPrincipal(r); m.self && id != "" {
		m.hosting = d.observeSelfRemoval(b, id, m)
	}
	return m
}

// observeUse queues what any other call of an IAM user from a hosting
// network records and reads: see mfa_device_removed_hosting.go.
func (d *MFADeviceRemoved) observeUse(ev *detectors.Event, b *state.Batch) detectors.Evaluation {
	r := ev.Record
	id := mfaPrincipal(r)
	if id == "" {
		return nil
	}
	net, ok := d.hostingNet(ev)
	if !ok {
		return nil
	}
	u := d.observeHosting(ev, b, id, net)
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) { return d.hostingFindings(ev, u) })
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
	case m.hosting != nil || m.newLoc != nil:
		var err error
		if sev, score, why, err = m.selfEvidence(sev, score, why); err != nil {
			return nil, err
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
	f.Once, f.Incident = m.d.incident(m.ev, m.account, target, r.EventTime, sev)
	return []detectors.Finding{f}, nil
}

// selfEvidence escalates a user's own removal to HIGH on the user's use
// of a hosting network new for it within the hour (order-free), or on the
// new-location mark of the key (set after access-key-new-location's batch,
// so it only adds to the first).
func (m *mfaRemoval) selfEvidence(sev detectors.Severity, score int, why string) (detectors.Severity, int, string, error) {
	r := m.ev.Record
	if m.hosting != nil {
		w, err := m.hosting.Get()
		if err != nil {
			return sev, score, why, err
		}
		net, err := recentNewHosting(w, r.EventTime)
		if err != nil {
			return sev, score, why, err
		}
		if net != "" {
			return detectors.SeverityHigh, 85, fmt.Sprintf("the user worked from hosting network %s, new for it in %s, "+
				"within the hour: whoever works from there is removing the second factor", net, detectors.Days(mfaHostingHabit)), nil
		}
	}
	if m.newLoc != nil {
		mk, err := m.newLoc.Get()
		if err != nil {
			return sev, score, why, err
		}
		if mk.Set && !mk.At.After(r.EventTime) && r.EventTime.Sub(mk.At) <= mfaNewLocationWindow {
			return detectors.SeverityHigh, 85, fmt.Sprintf("access key %s was used from a place new "+
				"for it at %s: whoever holds the key there is removing the second factor",
				r.UserIdentity.AccessKeyID, mk.At.Format(time.RFC3339)), nil
		}
	}
	return sev, score, why, nil
}
