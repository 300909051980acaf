package story

import (
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// An actor names one link of an actor chain in the story graph: an access
// key ("key:AKIA…"), an IAM user ("user:<account>:<name>"), a role
// ("role:<account>:<name>"), an assumed-role session
// ("session:<account>:<role>/<session>"), a source identity
// ("source:<value>"), the root user ("root:<account>") or any other
// principal by ARN ("arn:…"). Users and roles are named without their path,
// because the calls that create and change them name them without it.

// Actors returns the actors of r's caller, the first being the principal
// (nil for an AWS service or an anonymous caller).
func Actors(r *cloudtrail.Record) []string {
	u := &r.UserIdentity
	if r.ServiceCaller() || u.ARN == "" && u.AccessKeyID == "" {
		return nil
	}
	var out []string
	if p := principal(u.ARN); p != "" {
		out = append(out, p)
	}
	if u.AccessKeyID != "" {
		out = append(out, "key:"+u.AccessKeyID)
	}
	if role := roleOf(u.ARN); role != "" {
		out = append(out, role)
	}
	if u.SourceIdentity != "" {
		out = append(out, "source:"+u.SourceIdentity)
	}
	return out
}

// HasActors reports whether Actors(r) names anyone, without building
// the names: most records need only to know.
func HasActors(r *cloudtrail.Record) bool {
	u := &r.UserIdentity
	if r.ServiceCaller() || u.ARN == "" && u.AccessKeyID == "" {
		return false
	}
	if u.AccessKeyID != "" || u.SourceIdentity != "" {
		return true
	}
	_, _, ok := splitARN(u.ARN) // principal and roleOf name someone only then
	return ok
}

// IsRole reports whether actor is a role. A role is shared by everyone who
// assumes it, so the graph passes through a role only when someone created
// or changed it (see Graph): otherwise two strangers using one role would
// share a story.
func IsRole(actor string) bool { return strings.HasPrefix(actor, "role:") }

// IsSession reports whether actor is an assumed-role session, named by its
// role and the session name its caller chose.
func IsSession(actor string) bool { return strings.HasPrefix(actor, "session:") }

func principal(arn string) string {
	account, resource, ok := splitARN(arn)
	if !ok {
		return ""
	}
	kind, rest, _ := strings.Cut(resource, "/")
	switch kind {
	case "user":
		return "user:" + account + ":" + lastSegment(rest)
	case "assumed-role":
		return "session:" + account + ":" + rest
	case "role":
		return "role:" + account + ":" + lastSegment(rest)
	case "root":
		return "root:" + account
	}
	return "arn:" + arn
}

// roleOf returns the role actor of an assumed-role session ARN.
func roleOf(arn string) string {
	account, resource, ok := splitARN(arn)
	if !ok || !strings.HasPrefix(resource, "assumed-role/") {
		return ""
	}
	role, _, _ := strings.Cut(strings.TrimPrefix(resource, "assumed-role/"), "/")
	if role == "" {
		return ""
	}
	return "role:" + account + ":" + role
}

// splitARN returns the account and resource of arn:partition:service:region:account:resource.
// It cuts in place: it runs for every finding's ARNs, and a split slice
// cost allocations per call.
func splitARN(arn string) (account, resource string, ok bool) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", "", false
	}
	for range 3 { // partition, service, region
		if _, rest, ok = strings.Cut(rest, ":"); !ok {
			return "", "", false
		}
	}
	if account, resource, ok = strings.Cut(rest, ":"); !ok {
		return "", "", false
	}
	return account, resource, true
}

func lastSegment(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// Created returns the actors r's caller created or changed: the users,
// keys, roles and sessions a successful IAM or STS call made or granted.
// The caller and what it created are one chain: an attacker who mints a
// key for another user or a role for itself keeps acting through them.
func Created(r *cloudtrail.Record) []string {
	if r.Failed() || r.ServiceCaller() {
		return nil
	}
	account := r.AccountID()
	switch r.EventSource {
	case "iam.amazonaws.com":
		return createdIAM(r, account)
	case "sts.amazonaws.com":
		return createdSTS(r)
	}
	return nil
}

var userChanges = map[string]bool{
	"CreateUser": true, "CreateAccessKey": true, "CreateLoginProfile": true, "UpdateLoginProfile": true,
	"AttachUserPolicy": true, "PutUserPolicy": true, "AddUserToGroup": true, "UpdateAccessKey": true,
	"CreateServiceSpecificCredential": true, "UploadSSHPublicKey": true, "EnableMFADevice": true,
	"PutUserPermissionsBoundary": true, "DeleteUserPermissionsBoundary": true,
}

var roleChanges = map[string]bool{
	"CreateRole": true, "UpdateAssumeRolePolicy": true, "AttachRolePolicy": true, "PutRolePolicy": true,
	"PutRolePermissionsBoundary": true, "DeleteRolePermissionsBoundary": true, "UpdateRole": true,
}

func createdIAM(r *cloudtrail.Record, account string) []string {
	if !userChanges[r.EventName] && !roleChanges[r.EventName] {
		return nil // most IAM calls read: decode nothing for them
	}
	var p struct {
		UserName string `json:"userName"`
		RoleName string `json:"roleName"`
	}
	if err := r.Params(&p); err != nil {
		return nil
	}
	var out []string
	switch {
	case userChanges[r.EventName]:
		name := p.UserName
		if name == "" && r.UserIdentity.Type == "IAMUser" {
			name = r.UserIdentity.UserName // CreateAccessKey and others without userName act on the caller
		}
		if name != "" {
			out = append(out, "user:"+account+":"+name)
		}
	case roleChanges[r.EventName] && p.RoleName != "":
		out = append(out, "role:"+account+":"+p.RoleName)
	}
	if r.EventName == "CreateAccessKey" {
		var resp struct {
			AccessKey struct {
				AccessKeyID string `json:"accessKeyId"`
			} `json:"accessKey"`
		}
		if r.Response(&resp) == nil && resp.AccessKey.AccessKeyID != "" {
			out = append(out, "key:"+resp.AccessKey.AccessKeyID)
		}
	}
	return out
}

func createdSTS(r *cloudtrail.Record) []string {
	switch r.EventName {
	case "AssumeRole", "GetSessionToken", "GetFederationToken":
	default:
		return nil
	}
	var resp struct {
		Credentials struct {
			AccessKeyID string `json:"accessKeyId"`
		} `json:"credentials"`
		AssumedRoleUser struct {
			ARN string `json:"arn"`
		} `json:"assumedRoleUser"`
	}
	if r.Response(&resp) != nil {
		return nil
	}
	var out []string
	if resp.Credentials.AccessKeyID != "" {
		out = append(out, "key:"+resp.Credentials.AccessKeyID)
	}
	if p := principal(resp.AssumedRoleUser.ARN); p != "" {
		out = append(out, p)
	}
	return out
}
