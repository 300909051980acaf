package detectors

import (
	"strconv"
	"strings"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
)

// Helpers for explanations, so every detector names callers and periods
// the same way.

// Actor names the caller of r for explanations: its ARN, or what is known
// when CloudTrail gives none (the invoking service, the principal id).
func Actor(r *cloudtrail.Record) string {
	u := r.UserIdentity
	switch {
	case u.ARN != "":
		return u.ARN
	case u.InvokedBy != "":
		return u.InvokedBy
	case u.PrincipalID != "":
		return u.Type + " " + u.PrincipalID
	default:
		return "an unidentified " + strings.TrimSpace(u.Type+" caller")
	}
}

// Days renders d in days when it is a whole number of them ("1 day",
// "90 days"), and as a duration rounded to the minute otherwise.
func Days(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		n := int(d / day)
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	}
	return d.Round(time.Minute).String()
}
