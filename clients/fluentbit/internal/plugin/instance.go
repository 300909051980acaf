package plugin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

// Code is what a flush tells Fluent Bit; the values are Fluent Bit's.
type Code int

// Flush results.
const (
	Error Code = 0 // drop the chunk: resending cannot help
	OK    Code = 1 // every record has a verdict
	Retry Code = 2 // send the chunk again later
)

func (c Code) String() string { return [...]string{"FLB_ERROR", "FLB_OK", "FLB_RETRY"}[c] }

// Instance is one configured output: a client, and where findings go.
// Flush is safe for concurrent use, as Fluent Bit's Workers call it from
// several threads at once.
type Instance struct {
	cfg    Config
	client *iamsentry.Client
	log    *slog.Logger

	mu       sync.Mutex // serialises finding lines
	findings io.Writer
	file     *os.File // nil for stdout
}

// New builds an Instance. extra client options come last (tests).
func New(cfg Config, log *slog.Logger, extra ...iamsentry.Option) (*Instance, error) {
	in := &Instance{cfg: cfg, log: log, findings: os.Stdout}
	if cfg.FindingsFile != "" && cfg.FindingsFile != "-" {
		f, err := os.OpenFile(cfg.FindingsFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return nil, fmt.Errorf("findings_file: %w", err)
		}
		in.file, in.findings = f, f
	}
	client, err := iamsentry.Dial(cfg.Address, append(cfg.Options(), extra...)...)
	if err != nil {
		if in.file != nil {
			in.file.Close()
		}
		return nil, err
	}
	in.client = client
	return in, nil
}

// Flush scores one chunk. It returns OK once every record has a verdict,
// Retry when the service was unavailable or slow (nothing is lost: records
// already scored come back DUPLICATE with their findings on the retry), and
// Error for a chunk that cannot succeed (not msgpack, records refused).
// Findings are written only when the flush is final (OK or Error), so a
// retried chunk writes each finding once; a chunk Fluent Bit itself resends
// after OK writes its findings again (dedupe downstream on incident).
func (in *Instance) Flush(ctx context.Context, data []byte) Code {
	entries, skipped, err := Decode(data)
	for _, p := range skipped {
		in.log.Warn("iamsentry: event skipped", slog.Any("error", p))
	}
	if err != nil {
		in.log.Error("iamsentry: chunk is not Fluent Bit msgpack; dropping it", slog.Any("error", err))
		return Error
	}
	var records [][]byte
	for _, e := range entries {
		recs, problems := Records(e.Body)
		for _, p := range problems {
			in.log.Warn("iamsentry: text not sent: not a record the server could read", slog.Any("error", p))
		}
		records = append(records, recs...)
	}
	if len(records) == 0 {
		return OK
	}
	ctx, cancel := context.WithTimeout(ctx, in.cfg.Timeout)
	defer cancel()
	verdicts, err := in.client.Score(ctx, records)
	if err != nil && iamsentry.IsRetryable(err) {
		in.log.Warn("iamsentry: service unavailable; Fluent Bit will retry the chunk", slog.Int("records", len(records)), slog.Any("error", err))
		return Retry
	}
	in.logInvalid(verdicts)
	if werr := in.write(verdicts); werr != nil {
		in.log.Error("iamsentry: writing findings", slog.Any("error", werr))
		return Retry
	}
	if err != nil {
		in.log.Error("iamsentry: records refused; dropping them", slog.Any("error", err))
		return Error
	}
	return OK
}

// logInvalid counts the records the server answered INVALID, by reason
// code: never their contents, which may be anything a log line held.
func (in *Instance) logInvalid(verdicts []*iamsentry.Verdict) {
	codes := map[string]int{}
	n := 0
	for _, v := range verdicts {
		if v.GetOutcome() == iamsentryv1.Outcome_OUTCOME_INVALID {
			codes[cmp.Or(v.GetReasonCode(), "invalid")]++
			n++
		}
	}
	if n == 0 {
		return
	}
	var parts []string
	for _, c := range slices.Sorted(maps.Keys(codes)) {
		parts = append(parts, fmt.Sprintf("%s=%d", c, codes[c]))
	}
	in.log.Warn("iamsentry: records INVALID (not CloudTrail); the server counts them in iamsentry_records_invalid_total",
		slog.Int("invalid", n), slog.Int("records", len(verdicts)), slog.String("reasons", strings.Join(parts, " ")))
}

// write prints the findings of the verdicts as JSON lines, the shape
// iamsentry scan and replay print.
func (in *Instance) write(verdicts []*iamsentry.Verdict) error {
	var buf []byte
	for _, v := range verdicts {
		switch v.GetOutcome() {
		case iamsentryv1.Outcome_OUTCOME_ALERT, iamsentryv1.Outcome_OUTCOME_SUPPRESSED, iamsentryv1.Outcome_OUTCOME_DUPLICATE:
		default:
			continue
		}
		for _, f := range v.GetFindings() {
			b, err := iamsentry.MarshalFinding(f)
			if err != nil {
				return err
			}
			buf = append(append(buf, b...), '\n')
		}
	}
	if len(buf) == 0 {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	_, err := in.findings.Write(buf)
	return err
}

// Close drains and closes the client and the findings file.
func (in *Instance) Close(ctx context.Context) error {
	err := in.client.Close(ctx)
	if in.file != nil {
		err = errors.Join(err, in.file.Close())
	}
	return err
}
