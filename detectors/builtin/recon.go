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
// KeyFirstSeenMark uses, so a key's marks and windows share one Redis slot.
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
// Management Console session, as far as the record itself tells.
// sessionCredentialFromConsole is set by AWS and decides when present. Many
// console records lack it and carry only the user agent the console's back
// end sends (consoleUserAgent); the caller chooses its user agent, so it is
// believed only for temporary (ASIA…) keys, which is what console sessions
// use, and not for a workload's (workloadSession): a long-term key or an
// instance's credentials claiming to be the console is not excused, and
// neither is a browser's user agent alone (a web identity's browser, or a
// tool claiming to be one).
//
// Each record is judged on its own. A session mark set by a record carrying
// the flag, once read by the session's other records, made the verdict of
// a session depend on whether the flagged record arrived before the read
// that crossed a threshold: a finding raised cannot be taken back.
func consoleSession(r *cloudtrail.Record) bool {
	if r.SessionCredentialFromConsole {
		return true
	}
	return strings.HasPrefix(r.UserIdentity.AccessKeyID, "ASIA") && !workloadSession(r) && consoleUserAgent(r.UserAgent)
}

// workloadSession reports whether r's temporary credentials are a
// workload's, which no person signs in to the console with: an EC2
// instance profile's session (named after the instance, i-0123…) or an ECS
// task's (named after the 32-hex task id). Stolen from the instance
// metadata service, these are the temporary keys an attacker most often
// holds, so their claim to be the console is not believed.
func workloadSession(r *cloudtrail.Record) bool {
	if r.UserIdentity.Type != "AssumedRole" {
		return false
	}
	arn := r.UserIdentity.ARN
	session := arn[strings.LastIndexByte(arn, '/')+1:]
	if rest, ok := strings.CutPrefix(session, "i-"); ok && (len(rest) == 8 || len(rest) == 17) && isHex(rest) {
		return true
	}
	return len(session) == 32 && isHex(session)
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return s != ""
}

// consoleUserAgent reports whether ua is one the console's front and back
// ends send, as real records show them: "console.amazonaws.com",
// "console.ec2.amazonaws.com" (console.<service>.amazonaws.com),
// "signin.amazonaws.com", "AWS Internal", "aws-internal/3 aws-sdk-java/…",
// "[S3Console/0.4, aws-internal/3 …]", "EC2ConsoleFrontend, aws-internal/3 …".
func consoleUserAgent(ua string) bool { return consoleAgents.get(ua) }

// consoleAgents remembers consoleAgent per distinct user agent: every
// temporary key's read asks it, and searching a user agent of a hundred
// bytes and more for the console's tokens cost a thousand instructions.
var consoleAgents = newStringMemo(consoleAgent)

// consoleAgent is consoleUserAgent, worked out.
func consoleAgent(ua string) bool {
	switch ua {
	case "console.amazonaws.com", "signin.amazonaws.com", "AWS Internal":
		return true
	}
	if strings.HasPrefix(ua, "console.") && strings.HasSuffix(ua, ".amazonaws.com") && !strings.ContainsAny(ua, " /") {
		return true
	}
	if strings.HasPrefix(ua, "aws-internal/") || strings.Contains(ua, " aws-internal/") {
		return true
	}
	// The product token: "S3Console/0.4", "EC2ConsoleFrontend".
	tok := strings.TrimPrefix(ua, "[")
	if i := strings.IndexAny(tok, "/, ;("); i >= 0 {
		tok = tok[:i]
	}
	return strings.Contains(tok, "Console")
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
	// One Add rather than End's and another: recon asks for every window
	// a call meets.
	return state.Span{From: w.Start, To: w.Start.Add(w.Width - time.Nanosecond)}
}

// ID names the window in state keys: its start, compact UTC.
func (w window) ID() string { return windowIDs.format(w.Start) }

// String renders the window for explanations and evidence.
func (w window) String() string {
	return w.Start.Format(time.RFC3339) + "/" + w.End().Format(time.RFC3339)
}
