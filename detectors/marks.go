package detectors

import (
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/state"
)

// Marks one detector leaves for another. A detector reads another's
// conclusions only through these keys, so the two can be built, enabled and
// tested apart; when the writer is disabled the reader simply finds no mark.

// KeyFirstSeenMark is the mark access-key-new-location keeps (KeepEarliest)
// of the first time it saw a long-term access key (AKIA…) used from a
// public address. caller-identity-recon reads it to tell a key with a
// history (an application's key that never probed) from one never seen.
func KeyFirstSeenMark(ev *Event, accessKeyID string) state.Key {
	return ev.Key(ev.KeyIdentity(accessKeyID), "loc:first-seen")
}

// PrivilegedRoleMark is the mark set (KeepEarliest, at the event's time) when
// the service sees a role become privileged: AdministratorAccess attached or
// an admin-equivalent policy put on it. privileged-role-assumption-spike
// treats a marked role as privileged. Roles are keyed by account and role
// name (the last segment of the ARN), because the calls that grant
// privilege name the role without its path.
func PrivilegedRoleMark(ev *Event, account, roleName string) state.Key {
	return ev.Key("role:"+account+":"+roleName, "privileged")
}

// PrivilegedRoleMarkTTL is how long a role stays known as privileged after
// the grant was seen.
const PrivilegedRoleMarkTTL = 90 * 24 * time.Hour

// RoleNameFromARN returns the role name of a role ARN
// (arn:aws:iam::111122223333:role/path/Name → Name), or "" when arn is not
// a role ARN.
func RoleNameFromARN(arn string) string {
	_, rest, ok := strings.Cut(arn, ":role/")
	if !ok || rest == "" {
		return ""
	}
	if i := strings.LastIndexByte(rest, '/'); i >= 0 {
		rest = rest[i+1:]
	}
	return rest
}

// IdentityCenterRole reports whether roleARN is the role of an IAM
// Identity Center permission set: its name (RoleNameFromARN) starts with
// "AWSReservedSSO_". It tests the name, the ARN's tail, before searching
// the ARN for ":role/": most sessions are not Identity Center's, and the
// search was most of the cost for every record that asked.
func IdentityCenterRole(roleARN string) bool {
	name := roleARN[strings.LastIndexByte(roleARN, '/')+1:]
	// A role ARN's name is its tail (see RoleNameFromARN): the tail is
	// the name exactly when the ARN is a role's.
	return strings.HasPrefix(name, "AWSReservedSSO_") && strings.Contains(roleARN, ":role/")
}
