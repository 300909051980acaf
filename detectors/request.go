package detectors

// RoleRequest is what the detectors read of the request parameters of a
// call that names a role to assume or sign in to (sts:AssumeRole*,
// sso:GetRoleCredentials): five detectors decoded the same parameters of
// every AssumeRole, each into a struct of its own, 4,000 instructions a
// decode (the parameters' scan and their fields').
type RoleRequest struct {
	RoleARN         string `json:"roleArn"`
	RoleSessionName string `json:"roleSessionName"`
	SourceIdentity  string `json:"sourceIdentity"`
	RoleName        string `json:"roleName"`
	AccountID       string `json:"accountId"`
}

// RoleRequest decodes the event's request parameters into a RoleRequest
// once per event (cloudtrail.Record.Params). It reports false when they do
// not decode without error: the caller then decodes into its own struct,
// as it did, since a struct of fewer fields may decode without the error.
//
// When they do decode, each field is what a struct holding any of
// RoleRequest's fields, with the same tags, decodes to, and that decode
// has no error either: encoding/json fills each field from the members
// whose name matches its tag (exactly, else folding case, and no two of
// RoleRequest's tags fold alike), a struct of fewer fields meets a subset
// of the same members, and the only errors are the input's syntax, which
// both meet, and a member of the wrong type for a field it fills, which a
// struct holding that field meets. TestRoleRequestIsEachDecode holds it
// to the detectors' own structs.
func (ev *Event) RoleRequest() (RoleRequest, bool) {
	if ev.role == nil {
		p := roleRequests.New(ev)
		p.ok = ev.Record.Params(&p.req) == nil
		ev.role = p
	}
	return ev.role.req, ev.role.ok
}

// decodedRole is an event's RoleRequest, carved from its batch's arena.
type decodedRole struct {
	req RoleRequest
	ok  bool
}

var roleRequests = NewSlab[decodedRole]()
