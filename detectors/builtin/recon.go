package builtin

import (
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/state"
)

// What the two reconnaissance detectors (access-key-enumeration,
// caller-identity-recon) share: how they key state by access key, how they
// recognise a console session, and how they cut event time into windows.

// keyIdentity is the state identity of an access key. It is the identity
// NewLocationMark uses, so a key's marks and windows share one Redis slot.
func keyIdentity(accessKeyID string) string { return "key:" + accessKeyID }

// serviceOf returns the short service name of an event source
// ("ec2.amazonaws.com" → "ec2").
func serviceOf(source string) string {
	if i := strings.IndexByte(source, '.'); i > 0 {
		return source[:i]
	}
	return source
}

// consoleSession reports whether r was made with the credentials of an AWS
// Management Console session. sessionCredentialFromConsole is set by AWS and
// decides when present. Records older than that field carry only the user
// agent the console's back end sends; the caller chooses its user agent, so
// it is believed only for temporary (ASIA…) keys, which is what console
// sessions use: a long-term key claiming to be the console is not excused.
func consoleSession(r *cloudtrail.Record) bool {
	if r.SessionCredentialFromConsole {
		return true
	}
	if !strings.HasPrefix(r.UserIdentity.AccessKeyID, "ASIA") {
		return false
	}
	ua := r.UserAgent
	return ua == "console.amazonaws.com" || ua == "signin.amazonaws.com" || ua == "AWS Internal" ||
		strings.HasPrefix(ua, "aws-internal/")
}

// window is one aligned window of event time: [Start, Start+Width).
type window struct {
	Start time.Time
	Width time.Duration
}

// windowOf returns the aligned window of width w holding t.
func windowOf(t time.Time, w time.Duration) window {
	return window{Start: state.BucketStart(t, w), Width: w}
}

// End returns the first instant after the window.
func (w window) End() time.Time { return w.Start.Add(w.Width) }

// Span returns the window as an inclusive state.Span.
func (w window) Span() state.Span {
	return state.Span{From: w.Start, To: w.End().Add(-time.Nanosecond)}
}

// ID names the window in state keys: its start, compact UTC.
func (w window) ID() string { return w.Start.Format("20060102T150405Z") }

// String renders the window for explanations and evidence.
func (w window) String() string {
	return w.Start.Format(time.RFC3339) + "/" + w.End().Format(time.RFC3339)
}
