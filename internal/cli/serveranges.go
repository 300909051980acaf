package cli

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"time"
)

// flagRange is the accepted range of one numeric flag of serve. The server
// reads a zero or negative limit as "use the default", so a typo such as
// --batch-workers -3 would run with a setting nobody asked for; serve
// refuses it instead, naming the flag and what it accepts.
type flagRange struct {
	min, max int64
	unit     string // "" for counts; "duration" for durations
}

func (r flagRange) String() string {
	if r.unit == "duration" {
		if r.max == math.MaxInt64 {
			return fmt.Sprintf("at least %v", time.Duration(r.min))
		}
		return fmt.Sprintf("%v to %v", time.Duration(r.min), time.Duration(r.max))
	}
	return fmt.Sprintf("%d to %d", r.min, r.max)
}

// Accepted ranges of serve's numeric flags. Byte sizes stop at 2 GiB - 1
// (gRPC sizes messages in int32); counts stop where a larger value would
// only cost memory or goroutines.
var (
	bytesRange    = flagRange{min: 1, max: math.MaxInt32}
	countRange    = flagRange{min: 1, max: math.MaxInt32}
	positiveDur   = flagRange{min: 1, max: math.MaxInt64, unit: "duration"}
	serveRangeFor = map[string]flagRange{
		"max-record-size":          bytesRange,
		"max-recv-msg-size":        bytesRange,
		"ingest-max-recv-msg-size": bytesRange,
		"read-ahead-bytes":         bytesRange,
		"read-ahead-total":         bytesRange,
		"max-events-per-request":   countRange,
		"ingest-max-records":       countRange,
		"max-decompression-ratio":  countRange,
		"max-concurrent-streams":   countRange,
		"max-streams":              countRange,
		"max-open-streams":         countRange,
		"batch-size":               {min: 1, max: 1 << 20},
		"batch-workers":            {min: 1, max: 4096},
		"watch-buffer":             {min: 1, max: 1 << 24},
		"dedupe-horizon":           positiveDur,
		"grace-period":             positiveDur,
		"keepalive-min-time":       positiveDur,
		"keepalive-time":           positiveDur,
		"keepalive-timeout":        positiveDur,
		"max-connection-age":       positiveDur,
		"max-connection-age-grace": positiveDur,
		"batch-linger":             {min: 0, max: int64(time.Second), unit: "duration"},
		"source-max-in-flight":     {min: 1, max: 1 << 16},
		// SQS accepts visibility timeouts up to 12 hours; 0: the queue's.
		"source-visibility-timeout": {min: 0, max: int64(12 * time.Hour), unit: "duration"},
		// --gc-percent: -1 is documented as "collector off", as GOGC=off.
		"gc-percent": {min: -1, max: 1 << 20},
		// --batch-busy-linger: negative is documented as "never".
		"batch-busy-linger": {min: math.MinInt64, max: int64(time.Second), unit: "duration"},
	}
)

// checkRanges returns an error for every numeric flag set on the command
// line outside its accepted range, naming the flag, the value and the
// range. Flags left at their defaults are not checked (--batch-workers'
// default 0 means GOMAXPROCS).
func checkRanges(fs *flag.FlagSet, ranges map[string]flagRange) error {
	var errs []error
	fs.Visit(func(fl *flag.Flag) {
		r, ok := ranges[fl.Name]
		if !ok {
			return
		}
		g, ok := fl.Value.(flag.Getter)
		if !ok {
			return
		}
		var v int64
		switch x := g.Get().(type) {
		case int:
			v = int64(x)
		case time.Duration:
			v = int64(x)
		default:
			return
		}
		if v < r.min || v > r.max {
			errs = append(errs, fmt.Errorf("--%s %s: out of range, want %s", fl.Name, fl.Value, r))
		}
	})
	return errors.Join(errs...)
}
