package cloudtrail

import "testing"

func TestServiceCallerAndStablePrincipal(t *testing.T) {
	tests := []struct {
		name      string
		rec       string
		service   bool
		principal string
	}{
		{"iam user", `{"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"sourceIPAddress":"203.0.113.10"}`,
			false, "arn:aws:iam::111122223333:user/alice"},
		{"assumed role keys on the issuing role, not the session", `{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Ops/alice-1","sessionContext":{"sessionIssuer":{"type":"Role","arn":"arn:aws:iam::111122223333:role/Ops"}}},"sourceIPAddress":"203.0.113.10"}`,
			false, "arn:aws:iam::111122223333:role/Ops"},
		{"aws service", `{"userIdentity":{"type":"AWSService","invokedBy":"lambda.amazonaws.com"},"sourceIPAddress":"lambda.amazonaws.com"}`,
			true, "lambda.amazonaws.com"},
		{"invoked by a service on a role's behalf", `{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s","invokedBy":"cloudformation.amazonaws.com","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/R"}}},"sourceIPAddress":"cloudformation.amazonaws.com"}`,
			true, "arn:aws:iam::1:role/R"},
		{"service name source", `{"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::1:assumed-role/R/s"},"sourceIPAddress":"ec2.amazonaws.com"}`,
			true, "arn:aws:sts::1:assumed-role/R/s"},
		{"aws internal", `{"userIdentity":{"type":"Root","arn":"arn:aws:iam::1:root","accountId":"1"},"sourceIPAddress":"AWS Internal"}`,
			true, "arn:aws:iam::1:root"},
		{"principal id only", `{"userIdentity":{"type":"SAMLUser","principalId":"SAML:alice","accountId":"1"},"sourceIPAddress":"198.51.100.1"}`,
			false, "1:SAML:alice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := `{"eventVersion":"1.08","eventID":"e","eventTime":"2024-01-01T00:00:00Z","eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity",` + tt.rec[1:]
			r, err := Parse([]byte(full), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ServiceCaller(); got != tt.service {
				t.Errorf("ServiceCaller = %v, want %v", got, tt.service)
			}
			if got := r.StablePrincipal(); got != tt.principal {
				t.Errorf("StablePrincipal = %q, want %q", got, tt.principal)
			}
		})
	}
}

func TestRecordDenied(t *testing.T) {
	for code, want := range map[string]bool{
		"AccessDenied": true, "AccessDeniedException": true, "Client.UnauthorizedOperation": true,
		"UnauthorizedOperation": true, "AuthorizationError": true, "Forbidden": true,
		"ForbiddenException": true, "UnauthorizedAccess": true, "Server.AccessDenied": true,
		"NoSuchEntity": false, "ThrottlingException": false, "": false, "Client.InvalidParameterValue": false,
		"InvalidClientTokenId": false, "EntityAlreadyExists": false,
	} {
		r := Record{ErrorCode: code}
		if got := r.Denied(); got != want {
			t.Errorf("Record{ErrorCode: %q}.Denied() = %v, want %v", code, got, want)
		}
	}
}
