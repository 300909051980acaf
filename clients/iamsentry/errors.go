package iamsentry

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrClosed is returned by Send, Flush and Close on a Stream that was
// closed, and by NewStream on a closed Client.
var ErrClosed = errors.New("iamsentry: stream closed")

// ErrGaveUp wraps the last error of a Stream that made no progress for the
// WithGiveUpAfter period.
var ErrGaveUp = errors.New("iamsentry: service made no progress; gave up")

// errEndedEarly is what a stream that ends cleanly with requests still
// unanswered amounts to: the server went away between responses.
var errEndedEarly = status.Error(codes.Unavailable, "stream ended with requests unanswered")

// RequestError is the error of records whose request the server refused as
// a whole, for a reason that resending cannot fix (a request over a limit).
// The Stream goes on with the next request.
type RequestError struct {
	Records int   // records in the refused request
	Err     error // the gRPC status error
}

func (e *RequestError) Error() string {
	return fmt.Sprintf("iamsentry: request of %d records refused: %v", e.Records, e.Err)
}

func (e *RequestError) Unwrap() error { return e.Err }

// PartialError is Client.Score's error when some records got no verdict.
type PartialError struct {
	Total  int     // records in the call
	Failed []int   // positions of the records without a verdict, ascending
	Errs   []error // Errs[i] is why record Failed[i] has none
}

func (e *PartialError) add(i int, err error) {
	e.Failed = append(e.Failed, i)
	e.Errs = append(e.Errs, err)
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("iamsentry: %d of %d records got no verdict (first, record %d: %v)",
		len(e.Failed), e.Total, e.Failed[0], e.Errs[0])
}

// Unwrap returns the distinct errors, so errors.Is and errors.As see them.
func (e *PartialError) Unwrap() []error {
	var out []error
	seen := map[string]bool{}
	for _, err := range e.Errs {
		if k := err.Error(); !seen[k] {
			seen[k] = true
			out = append(out, err)
		}
	}
	return out
}

// IsRetryable reports whether sending the same records again later may
// succeed: the service was unavailable, timed out or gave up, as opposed to
// refusing them (a bad request, bad credentials). For a *PartialError it
// is true when any of its records may succeed on a retry.
func IsRetryable(err error) bool {
	if pe, ok := errors.AsType[*PartialError](err); ok {
		for _, e := range pe.Errs {
			if IsRetryable(e) {
				return true
			}
		}
		return false
	}
	if _, ok := errors.AsType[*RequestError](err); ok {
		return false
	}
	if errors.Is(err, ErrGaveUp) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if st, ok := status.FromError(err); ok {
		return classify(st.Code()) == retry
	}
	return false
}

// action is what a lane does about a failed gRPC stream.
type action int

const (
	retry      action = iota // reconnect with backoff and resend
	rejectHead               // fail the first unanswered request, go on with the rest
	fatal                    // fail the Stream
)

// classify maps a status code to an action. The server ends a stream only
// after answering every request before the one at fault, so a per-request
// refusal always concerns the first unanswered request.
func classify(c codes.Code) action {
	switch c {
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded, codes.Canceled:
		return retry
	case codes.InvalidArgument, codes.ResourceExhausted, codes.FailedPrecondition, codes.OutOfRange:
		return rejectHead
	}
	return fatal
}
