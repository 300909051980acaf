package builtin

import (
	"cmp"
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/detectors/policy"
	"github.com/iamsentry/iamsentry/state"
)

// What admin-policy-attached remembers, all in package state:
//
//   - per IAM entity (detectors.IAMEntity): "created", the latest creation
//     time, and "admin-granted", the latest time it was given an
//     admin-equivalent grant (a group holds it as long as adminStateTTL);
//   - per customer managed policy ARN: "grant:versions", a windowed set of
//     "<version>=<level>" for each version whose document it read, and
//     "grant:default", a windowed set of version ids at the time each became
//     default (the latest is the default);
//   - per Identity Center permission set ARN: "admin-granted".

// adminCall is one call being evaluated.
type adminCall struct {
	d       *AdminPolicyAttached
	ev      *detectors.Event
	r       *cloudtrail.Record
	p       *grantParams
	account string
}

func (g adminCall) entity(kind, name string) string {
	return detectors.IAMEntity(g.account, kind, name)
}

func (g adminCall) createdKey(kind, name string) state.Key {
	return g.ev.Key(g.entity(kind, name), "created")
}

func (g adminCall) grantedKey(kind, name string) state.Key {
	return g.ev.Key(g.entity(kind, name), "admin-granted")
}

func (g adminCall) permissionSetKey(arn string) state.Key {
	return g.ev.Key("sso:"+arn, "admin-granted")
}

// grantedMark is the mark an admin-equivalent grant leaves on its target:
// long-lived on a group (it holds the grant for its members), long enough
// to meet a late creation record otherwise.
func (g adminCall) grantedMark(kind, name string) detectors.SetMark {
	ttl := adminFreshWindow + time.Hour
	if kind == "group" {
		ttl = adminStateTTL
	}
	return detectors.SetMark{Key: g.grantedKey(kind, name), At: g.r.EventTime, Keep: state.KeepLatest, TTL: ttl}
}

// adminMarks are the marks an admin-equivalent grant to kind/name leaves:
// its own, and privileged-role-assumption-spike's for a role.
func (g adminCall) adminMarks(kind, name string) []detectors.SetMark {
	ms := []detectors.SetMark{g.grantedMark(kind, name)}
	if kind == "role" {
		ms = append(ms, detectors.SetMark{Key: detectors.PrivilegedRoleMark(g.ev, g.account, name),
			At: g.r.EventTime, Keep: state.KeepEarliest, TTL: detectors.PrivilegedRoleMarkTTL})
	}
	return ms
}

func setMarks(b *state.Batch, ms []detectors.SetMark) {
	for _, m := range ms {
		b.Mark(m.Key, m.At, m.Keep, m.TTL)
	}
}

// rememberVersion records what a customer managed policy version grants
// and which version is default.
func (g adminCall) rememberVersion(b *state.Batch) {
	if g.r.Failed() {
		return
	}
	var resp policyResponse
	_ = g.r.Response(&resp) // optional: the ARN is rebuilt and v1 assumed without it
	arn, version, isDefault := g.p.PolicyARN, "", true
	switch g.r.EventName {
	case "CreatePolicy":
		arn, version = resp.Policy.ARN, cmp.Or(resp.Policy.DefaultVersionID, "v1")
		if arn == "" && g.p.PolicyName != "" {
			arn = managedARN(g.r, g.account, g.p.Path, g.p.PolicyName)
		}
	case "CreatePolicyVersion":
		version, isDefault = resp.PolicyVersion.VersionID, isTrue(g.p.SetAsDefault)
	case "SetDefaultPolicyVersion":
		version = g.p.VersionID
	}
	if !customerPolicy(arn) || !validVersion(version) {
		return
	}
	at := g.r.EventTime
	if g.r.EventName != "SetDefaultPolicyVersion" {
		sum, err := policy.Analyze(g.p.PolicyDocument)
		if err != nil {
			return // unreadable: the version stays unseen
		}
		member := version + "=" + strconv.Itoa(int(levelOf(sum)))
		b.WindowAdd(g.ev.Key(arn, "grant:versions"), member, at, state.Span{From: at, To: at}, adminStateTTL)
	}
	if isDefault {
		b.WindowAdd(g.ev.Key(arn, "grant:default"), version, at, state.Span{From: at, To: at}, adminStateTTL)
	}
}

// policyMemory is what was remembered of a customer managed policy at the
// time of a call.
type policyMemory struct {
	versions, defaults *state.Future[state.Window]
}

// maxVersions bounds the window reads: IAM keeps at most 5 versions of a
// policy, and the default window holds each version once.
const maxVersions = 64

func (g adminCall) readPolicy(b *state.Batch, arn string) policyMemory {
	span := state.Span{From: g.r.EventTime.Add(-adminStateTTL), To: g.r.EventTime}
	return policyMemory{
		versions: b.WindowRead(g.ev.Key(arn, "grant:versions"), span, maxVersions),
		defaults: b.WindowRead(g.ev.Key(arn, "grant:default"), span, maxVersions),
	}
}

// level returns what the default version granted at the call's time, and
// the version; seen is false when the default or its document was not seen.
func (m policyMemory) level() (l grantLevel, version string, seen bool, err error) {
	defs, err := m.defaults.Get()
	if err != nil {
		return levelNone, "", false, err
	}
	vers, err := m.versions.Get()
	if err != nil {
		return levelNone, "", false, err
	}
	if len(defs.Members) == 0 {
		return levelNone, "", false, nil
	}
	version = defs.Members[len(defs.Members)-1] // earliest first: the last is the current default
	for _, v := range vers.Members {
		if rest, ok := strings.CutPrefix(v, version+"="); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < int(levelNone) || n > int(levelAdmin) {
				return levelNone, version, false, nil
			}
			return grantLevel(n), version, true, nil
		}
	}
	return levelNone, version, false, nil
}
