package cloudtrail_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// The account owning the VPC endpoint a call came through is what tells an
// organisation's own endpoint from an attacker's; both decoding paths read
// it.
func TestParseVPCEndpointAccountID(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"fast", `{"eventID":"e","eventName":"ListBuckets","eventSource":"s3.amazonaws.com","eventTime":"2024-01-01T00:00:00Z",` +
			`"vpcEndpointId":"vpce-1","vpcEndpointAccountId":"999988887777","userIdentity":{"type":"AssumedRole"}}`},
		{"escaped key", `{"eventID":"e","eventName":"ListBuckets","eventSource":"s3.amazonaws.com","eventTime":"2024-01-01T00:00:00Z",` +
			`"vpcEndpointId":"vpce-1","vpcEndpoint\u0041ccountId":"999988887777","userIdentity":{"type":"AssumedRole"}}`},
	} {
		r, err := cloudtrail.Parse([]byte(tc.doc), cloudtrail.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.VPCEndpointAccountID != "999988887777" || r.VPCEndpointID != "vpce-1" {
			t.Errorf("%s: endpoint %q account %q, want vpce-1 999988887777", tc.name, r.VPCEndpointID, r.VPCEndpointAccountID)
		}
	}
}
