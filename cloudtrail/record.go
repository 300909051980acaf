// Package cloudtrail turns CloudTrail JSON into the compact Record detectors
// work on. It accepts every container CloudTrail arrives in (single record,
// S3 delivery envelope, bare array, JSON lines, gzip of any of them) and
// rejects a record with a reason a person can act on.
//
// Only the fields detectors use are decoded; requestParameters and
// responseElements are kept as raw JSON and decoded lazily by the few
// detectors that need them.
package cloudtrail

import (
	"encoding/json"
	"net/netip"
	"strings"
	"time"
)

// DefaultMaxRecordSize is the default limit on one record's JSON size.
const DefaultMaxRecordSize = 256 << 10

// Record is one CloudTrail event, reduced to what detectors use.
type Record struct {
	EventID       string
	EventName     string
	EventSource   string // e.g. "iam.amazonaws.com"
	EventTime     time.Time
	EventType     string // AwsApiCall, AwsConsoleSignIn, ...
	AWSRegion     string
	ErrorCode     string // "" when the call succeeded
	ErrorMessage  string
	ReadOnly      ReadOnly
	UserAgent     string
	VPCEndpointID string
	// VPCEndpointAccountID is vpcEndpointAccountId: the account that owns
	// the VPC endpoint the call came through ("" when none, or when the
	// record predates the field).
	VPCEndpointAccountID string
	RecipientAccountID   string

	// SessionCredentialFromConsole is sessionCredentialFromConsole ==
	// "true": AWS set it because the call was made with the credentials of
	// an AWS Management Console session. Unlike userAgent, the caller
	// cannot choose it.
	SessionCredentialFromConsole bool

	// SourceIPAddress is sourceIPAddress exactly as given. SourceIP is its
	// parsed form and is valid only when the field holds a literal IP;
	// AWS service names ("ec2.amazonaws.com"), "AWS Internal" and malformed
	// values such as zero-padded octets leave it invalid.
	SourceIPAddress string
	SourceIP        netip.Addr

	UserIdentity UserIdentity

	// RequestParameters and ResponseElements are the raw JSON of those
	// fields, nil when absent or null. Use Params/Response to decode.
	RequestParameters json.RawMessage
	ResponseElements  json.RawMessage
	// AdditionalEventData is the raw JSON of additionalEventData, nil when
	// absent or null: where console sign-ins say whether MFA was used
	// (MFAUsed). Use Additional to decode.
	AdditionalEventData json.RawMessage
}

// ReadOnly is CloudTrail's tri-state readOnly flag.
type ReadOnly int8

const (
	ReadOnlyUnknown ReadOnly = iota // field absent
	ReadOnlyTrue
	ReadOnlyFalse
)

// UserIdentity is the caller, as CloudTrail's userIdentity describes it.
type UserIdentity struct {
	Type        string // IAMUser, AssumedRole, Root, FederatedUser, AWSService, AWSAccount, ...
	PrincipalID string
	ARN         string
	AccountID   string
	AccessKeyID string
	UserName    string
	InvokedBy   string // set when an AWS service called on the principal's behalf

	// SessionIssuer is sessionContext.sessionIssuer: for an assumed-role
	// session, the role that issued it.
	SessionIssuer SessionIssuer
	// SourceIdentity is sessionContext.sourceIdentity.
	SourceIdentity string
	// MFAAuthenticated is sessionContext.attributes.mfaAuthenticated == "true".
	MFAAuthenticated bool
}

// SessionIssuer is the entity that issued temporary credentials.
type SessionIssuer struct {
	Type        string // Role, IAMUser, Root
	PrincipalID string
	ARN         string
	AccountID   string
	UserName    string
}

// AccountID returns the account the event belongs to: the caller's account,
// or the recipient account when the caller has none (AWS service callers).
func (r *Record) AccountID() string {
	if r.UserIdentity.AccountID != "" {
		return r.UserIdentity.AccountID
	}
	return r.RecipientAccountID
}

// Failed reports whether the call failed (errorCode is set).
func (r *Record) Failed() bool { return r.ErrorCode != "" }

// Denied reports whether the call failed because the caller lacked
// permission, as opposed to a missing resource, a bad parameter or
// throttling. Codes differ by service: AccessDenied (IAM, S3, STS),
// AccessDeniedException (most JSON APIs), Client.UnauthorizedOperation and
// UnauthorizedOperation (EC2), AuthorizationError (SNS), Forbidden,
// ForbiddenException and UnauthorizedAccess (others). A qualifier before
// the last dot ("Client.", "Server.") is ignored.
func (r *Record) Denied() bool {
	code := r.ErrorCode
	if i := strings.LastIndexByte(code, '.'); i >= 0 {
		code = code[i+1:]
	}
	return strings.HasPrefix(code, "AccessDenied") || strings.HasPrefix(code, "Unauthorized") ||
		strings.HasPrefix(code, "AuthorizationError") || code == "Forbidden" || code == "ForbiddenException"
}

// Params decodes requestParameters into v. It returns nil and leaves v
// untouched when requestParameters is absent or null.
func (r *Record) Params(v any) error { return decodeRaw(r.RequestParameters, v) }

// Response decodes responseElements into v, as Params does.
func (r *Record) Response(v any) error { return decodeRaw(r.ResponseElements, v) }

// Additional decodes additionalEventData into v, as Params does.
func (r *Record) Additional(v any) error { return decodeRaw(r.AdditionalEventData, v) }

// ServiceCaller reports whether the call was made by an AWS service rather
// than a person or a workload holding credentials: userIdentity.type
// AWSService, an invokedBy service, or a sourceIPAddress that is a service
// name ("ec2.amazonaws.com") or "AWS Internal".
func (r *Record) ServiceCaller() bool {
	if r.UserIdentity.Type == "AWSService" || r.UserIdentity.InvokedBy != "" {
		return true
	}
	if r.SourceIsIP() {
		return false
	}
	src := r.SourceIPAddress
	return src == "AWS Internal" || strings.HasSuffix(src, ".amazonaws.com") || strings.HasSuffix(src, ".amazonaws.com.cn")
}

// StablePrincipal names the caller in a way that survives new sessions, for
// keying baselines: the IAM user's ARN, the role ARN that issued an
// assumed-role or federated session (never the per-session ARN), the root
// ARN, the invoking service for AWS service calls, and otherwise the
// principal id or ARN as given. It is "" when the record names no caller.
func (r *Record) StablePrincipal() string {
	u := &r.UserIdentity
	switch u.Type {
	case "AssumedRole", "FederatedUser":
		if u.SessionIssuer.ARN != "" {
			return u.SessionIssuer.ARN
		}
	case "AWSService":
		if u.InvokedBy != "" {
			return u.InvokedBy
		}
	}
	if u.ARN != "" {
		return u.ARN
	}
	if u.PrincipalID != "" {
		return r.AccountID() + ":" + u.PrincipalID
	}
	return ""
}
