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
//   - for an IAM user's own device, where the removal came from, against
//     the places the user worked from on earlier days
//     (mfa_device_removed_hosting.go): HIGH from a hosting, VPN or Tor
//     network (or an EC2 instance's) the user did not use on 3 distinct
//     days of the last ten
//     (whoever works from a fresh VPS is removing the second factor; a
//     thief's few hours of warming it up do not make it the user's);
//     MEDIUM from such a network the user used on those days only through
//     the removing credential (a stolen key warmed for days looks like
//     that), or from a country the user never worked from in 30 days, up
//     to the day before the removal's (a residential proxy abroad, which
//     no hosting list names; a thief's evening before does not teach it).
//     Judged from
//     the removal record and what earlier days wrote, so batching, arrival
//     order and replicas do not change it;
//   - HIGH for root's own device: root is then a password alone;
//   - LOW for the caller's own device otherwise: users replace phones,
//     from the office, from home, from a jump host they use every day.
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
			"is removed from a hosting, VPN or Tor network (or AWS's, outside trusted networks) the user did not use on 3 distinct earlier days of the last 10; " +
			"MEDIUM from such a network the user used on those days only through the removing credential, or from a country " +
			"the user never worked from in the last 30 days up to the day before the removal's; judged from the removal and the user's earlier days whatever the arrival order. " +
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
	// place is where the removal came from and places the user's places
	// on earlier days; nil when the removal's source places nobody.
	place  mfaPlace
	places *state.Future[state.Window]
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
	if id := mfaPrincipal(ev); m.self && id != "" {
		m.observeRemovalPlace(b, id)
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
	case m.places != nil:
		w, err := m.places.Get()
		if err != nil {
			return nil, err
		}
		sev, score, why = m.judge(m.judgePlace(w), sev, score, why)
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
	switch {
	case m.place.hosting:
		f.Evidence["hosting_network"] = m.place.value
	case m.place.value != "":
		f.Evidence["country"] = strings.TrimPrefix(m.place.value, "cc:")
	}
	day := state.BucketStart(r.EventTime, 24*time.Hour).Format(time.DateOnly)
	f.Once = detectors.OncePer(m.ev.Key(detectors.IAMEntity(m.account, "user", target),
		"mfa-removed:"+sev.String()+":"+day), 24*time.Hour)
	return []detectors.Finding{f}, nil
}

// judge weighs a user's own removal by its place: sev, score and why are
// the LOW default it keeps when the place is the user's.
func (m *mfaRemoval) judge(h placeHistory, sev detectors.Severity, score int, why string) (detectors.Severity, int, string) {
	period := detectors.Days(mfaHostingHabit)
	switch {
	case m.place.hosting && h.hostingDays < mfaHostingKnownDays:
		return detectors.SeverityHigh, 85, fmt.Sprintf("it came from hosting network %s, which the user called from "+
			"on %d earlier days of the last %s: whoever works from there is removing the second factor",
			m.place.value, h.hostingDays, period)
	case m.place.hosting && h.otherCredDays == 0:
		return detectors.SeverityMedium, 60, fmt.Sprintf("it came from hosting network %s, which the user called from "+
			"on %d earlier days of the last %s, but only with the credential removing the device (%s): "+
			"a stolen key warmed up on a VPS looks the same", m.place.value, h.hostingDays, period, m.place.cred)
	case !m.place.hosting && h.countries > 0 && !h.countryKnown:
		return detectors.SeverityMedium, 55, fmt.Sprintf("it came from country %s, where the user did not work on any "+
			"earlier day of the last %s (%d other %s): a second factor removed from abroad, as through a residential proxy",
			strings.TrimPrefix(m.place.value, "cc:"), detectors.Days(mfaCountryHabit), h.countries, plural("country", h.countries))
	}
	return sev, score, why
}
