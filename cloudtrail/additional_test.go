package cloudtrail_test

import (
	"testing"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// TestAdditionalEventData checks that additionalEventData is kept raw, so a
// detector can read MFAUsed of a console sign-in, and that an odd value (a
// string, null) never makes a record invalid.
func TestAdditionalEventData(t *testing.T) {
	const head = `{"eventVersion":"1.08","eventID":"e1","eventTime":"2024-08-02T08:53:24Z",` +
		`"eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin",` +
		`"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u","accountId":"111122223333"},`
	cases := []struct {
		name, field, want string
	}{
		{"object", `"additionalEventData":{"MFAUsed":"No","MobileVersion":"No"}`, "No"},
		{"absent", `"readOnly":false`, ""},
		{"null", `"additionalEventData":null`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := cloudtrail.Parse([]byte(head+c.field+`}`), cloudtrail.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var add struct {
				MFAUsed string `json:"MFAUsed"`
			}
			if err := r.Additional(&add); err != nil {
				t.Fatal(err)
			}
			if add.MFAUsed != c.want {
				t.Errorf("MFAUsed = %q, want %q", add.MFAUsed, c.want)
			}
		})
	}
	t.Run("string value still parses", func(t *testing.T) {
		r, err := cloudtrail.Parse([]byte(head+`"additionalEventData":"odd"}`), cloudtrail.Options{})
		if err != nil {
			t.Fatalf("rule: an odd additionalEventData never rejects a record: %v", err)
		}
		var add struct{ MFAUsed string }
		if err := r.Additional(&add); err == nil {
			t.Error("rule: decoding a string as an object reports an error")
		}
	})
}
