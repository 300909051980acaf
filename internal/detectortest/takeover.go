package detectortest

import (
	"fmt"
	"time"
)

// The textbook takeover of issue 14, as engine/story_scenario_test.go
// builds it, for tests outside the engine that need a story created and
// then raised: eight days of alice's key from the office and from home
// (TakeoverHistory), then whoami and a listing from a network never seen
// (new location MEDIUM, recon MEDIUM) and a key alice makes for herself,
// LOW (TakeoverAttack). Scored in that order, one record at a time, with
// default options and no GeoIP databases, the attack forms one HIGH story.

// TakeoverDay0 is when TakeoverHistory starts.
var TakeoverDay0 = time.Date(2025, 3, 3, 9, 0, 0, 0, time.UTC)

// TakeoverKey is alice's access key.
const TakeoverKey = "AKIAALICE0000000001"

func takeoverCall(source, name string, at time.Time, ip string) Rec {
	return Base(source, name, at).With("sourceIPAddress", ip).With("userIdentity", map[string]any{
		"type": "IAMUser", "principalId": "AIDAALICE", "arn": "arn:aws:iam::111122223333:user/alice",
		"accountId": "111122223333", "accessKeyId": TakeoverKey, "userName": "alice",
	})
}

// TakeoverHistory is alice's habit: the history that makes the attack's
// network new. It raises no finding.
func TakeoverHistory() []Rec {
	var out []Rec
	for d := range 8 {
		at := TakeoverDay0.Add(time.Duration(d) * 24 * time.Hour)
		out = append(out,
			takeoverCall("s3.amazonaws.com", "ListBuckets", at, "203.0.113.10"),
			takeoverCall("s3.amazonaws.com", "ListBuckets", at.Add(11*time.Hour), fmt.Sprintf("198.51.100.%d", 20+d)))
	}
	return out
}

// TakeoverAttack is the stolen key at work, the day after the history.
func TakeoverAttack() []Rec {
	t0 := TakeoverDay0.Add(8*24*time.Hour + 5*time.Hour)
	call := func(source, name string, after time.Duration) Rec {
		return takeoverCall(source, name, t0.Add(after), "198.18.7.7").With("userAgent", "python-requests/2.31.0")
	}
	return []Rec{
		call("sts.amazonaws.com", "GetCallerIdentity", 0),
		call("s3.amazonaws.com", "ListBuckets", 40*time.Second),
		call("iam.amazonaws.com", "CreateAccessKey", 3*time.Minute).With("requestParameters", map[string]any{}).
			With("responseElements", map[string]any{"accessKey": map[string]any{"userName": "alice", "accessKeyId": "AKIANEWALICE", "status": "Active"}}),
	}
}
