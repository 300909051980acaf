package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/iamsentry/iamsentry/clients/iamsentry"
	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/engine/story"
	iamsentryv1 "github.com/iamsentry/iamsentry/gen/iamsentry/v1"
)

const replayDetails = `Streams CloudTrail files, directories or standard input ("-") to an
iamsentry server through the Go client library, and prints the findings the
server returns. Reads what scan reads: a directory's record files only
(names ending .json, .jsonl or .ndjson, each optionally .gz; the summary
counts the files skipped), any file named on the command line, as S3
delivery files ({"Records":[...]}), JSON arrays, JSON lines or single
records, gzip-compressed or not. Records are resent after a broken
connection; the server's deduplication keeps scoring exactly once.

Findings go to standard output; progress (a bar on a terminal, a line every
10 s otherwise) and a summary go to standard error. Both count records the
same way: read from the inputs = sent + invalid before sending (never
sent); sent = answered (a verdict came back) + unanswered (none did). The
summary then counts the answers by outcome, as scan does, and groups
invalid records by reason code with one example message each. A record
the server has scored before (a rerun after a kill, a resend after a
broken connection) is answered as a duplicate carrying its original
findings: each finding is printed once per run, whichever verdict brought
it, and the summary counts the record as a duplicate.

With --stories, attack stories (the findings of one actor chain, see
docs/findings.md) go to standard output too, in scan --stories' shape: one
JSON line each ({"story":...,"severity":...,"stages":[...],"identities":
[...],"incidents":[...],"first_event_time":...,"last_event_time":...,
"summary":...}), each time the server's scoring created or changed one,
after the findings of the record that did; --stories-out writes them to a
file instead. A story update is told once, by the verdict of the record
that made it: records the server had scored before (a rerun) tell none.
With --batch 1 and --window 1 records are scored one at a time, in file
order, and the stories match scan --batch-size 1's.

Exit status:
  0  every record read was answered (invalid records are counted, not fatal)
  1  an input could not be read, or records were left unanswered (server
     unreachable past --give-up, a refused request, bad credentials)
  2  the command line was wrong`

type replayFlags struct {
	conn                              connFlags
	format, progress                  string
	learn, stories                    bool
	storiesOut                        string
	batch, window, streams, maxRecord int
	giveUp, progressEvery             time.Duration
	s3                                s3Flags
}

func (f *replayFlags) register(fs *flag.FlagSet) {
	f.conn.register(fs)
	f.s3.register(fs)
	fs.StringVar(&f.format, "format", "json", "finding output: json (one JSON object per line) or text (for people)")
	fs.BoolVar(&f.stories, "stories", false, "also print attack stories (findings linked by actor chain) as JSON lines, after the findings of the record that created or changed them")
	fs.StringVar(&f.storiesOut, "stories-out", "", "write attack stories to `file` instead of standard output (implies --stories)")
	fs.BoolVar(&f.learn, "learn", false, "only learn: the server updates windows and baselines and remembers event ids, but raises no findings")
	fs.IntVar(&f.batch, "batch", iamsentry.DefaultBatch, "records per request")
	fs.IntVar(&f.window, "window", iamsentry.DefaultWindow, "requests in flight per stream")
	fs.IntVar(&f.streams, "streams", iamsentry.DefaultStreams, "concurrent gRPC streams (spread over replicas by round_robin)")
	fs.IntVar(&f.maxRecord, "max-record-size", cloudtrail.DefaultMaxRecordSize, "largest CloudTrail record sent, `bytes`; larger ones are counted invalid")
	fs.DurationVar(&f.giveUp, "give-up", 2*time.Minute, "stop retrying once the server has answered nothing for this long")
	fs.StringVar(&f.progress, "progress", "auto", "progress on stderr: auto (a bar on a terminal, else lines), bar, plain or off")
	fs.DurationVar(&f.progressEvery, "progress-every", 0, "progress interval (default 200ms for the bar, 10s for lines)")
}

func (f *replayFlags) clientOptions() []iamsentry.Option {
	return append([]iamsentry.Option{
		iamsentry.WithBatch(f.batch), iamsentry.WithWindow(f.window), iamsentry.WithStreams(f.streams),
		iamsentry.WithLearn(f.learn), iamsentry.WithGiveUpAfter(f.giveUp),
	}, f.conn.clientOptions()...)
}

// replayer streams inputs and accounts for every record.
type replayer struct {
	f        *replayFlags
	stdio    Stdio
	stream   *iamsentry.Stream
	progress *progress

	mu         sync.Mutex // guards what follows: the reader and the result goroutine both count
	sum        scanSummary
	unanswered map[string]int // error → records without a verdict
	notSent    int            // records found invalid before sending
	shown      int
	writeErr   error
	printed    map[string]struct{} // findings printed, by incident and event (see printedKey)
	// stories receives the story updates verdicts carry; nil leaves them
	// out.
	stories io.Writer
	told    map[string]struct{} // story updates printed, by their JSON line
}

// at says where a record came from, for messages about it.
type at struct{ input, pos string }

func replay(ctx context.Context, args []string, stdio Stdio) int {
	var f replayFlags
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	f.register(fs)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	f.conn.fromEnv()
	if fs.NArg() == 0 || (f.format != "json" && f.format != "text") || f.batch <= 0 || f.window <= 0 || f.streams <= 0 ||
		!slices.Contains([]string{"auto", "bar", "plain", "off"}, f.progress) {
		fs.Usage()
		return ExitUsage
	}
	if err := f.s3.check(fs.Args()); err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry replay: %v\n", err)
		return ExitUsage
	}
	storiesTo, closeStories, err := f.storiesWriter(stdio.Out)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry replay: stories: %v\n", err)
		return ExitError
	}
	defer closeStories()
	client, err := iamsentry.Dial(f.conn.addr, f.clientOptions()...)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry replay: %v\n", err)
		return ExitError
	}
	defer client.Close(context.Background())
	stream, err := client.NewStream(ctx)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry replay: %v\n", err)
		return ExitError
	}
	r := &replayer{
		f: &f, stdio: stdio, stream: stream, unanswered: map[string]int{}, stories: storiesTo,
		sum:      scanSummary{alerts: map[string]int{}, suppressed: map[string]int{}, reasons: map[string]int{}, learn: f.learn},
		progress: newProgress(stdio.Err, f.progress, f.progressEvery, inputSize(fs.Args())),
	}
	results := make(chan struct{})
	go func() { defer close(results); r.collect() }()
	failed := false
	for _, arg := range fs.Args() {
		send := r.send
		if f.s3.checkpoint != "" {
			send = r.sendAnswered
		}
		if err := eachInput(ctx, arg, stdio.In, &s3Input{flags: &f.s3, log: stdio.Err, cmd: "replay"}, send, r.skip); err != nil {
			fmt.Fprintf(stdio.Err, "iamsentry replay: %v\n", err)
			failed = true
			if ctx.Err() != nil {
				break
			}
		}
	}
	closeErr := stream.Close(ctx)
	<-results
	r.progress.finish()
	if closeErr != nil && !errors.Is(closeErr, context.Canceled) {
		fmt.Fprintf(stdio.Err, "iamsentry replay: %v\n", closeErr)
	}
	if r.writeErr != nil {
		fmt.Fprintf(stdio.Err, "iamsentry replay: writing findings: %v\n", r.writeErr)
		failed = true
	}
	r.printSummary()
	if failed || len(r.unanswered) > 0 {
		return ExitError
	}
	return ExitOK
}

// send reads one input's records and queues them on the stream.
func (r *replayer) send(ctx context.Context, name string, in io.Reader) error {
	r.mu.Lock()
	r.sum.inputs++
	r.mu.Unlock()
	rd := cloudtrail.NewReader(r.progress.reader(in), cloudtrail.Options{MaxRecordSize: r.f.maxRecord})
	for {
		item, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.progress.records.Add(1)
		if item.Err != nil {
			r.mu.Lock()
			r.sum.invalid(item.Err)
			r.notSent++
			r.mu.Unlock()
			continue
		}
		if err := r.stream.Send(ctx, item.Raw, at{name, item.Pos}); err != nil {
			return fmt.Errorf("%s %s: %w", name, item.Pos, err)
		}
		r.progress.sent.Add(1)
	}
}

// sendAnswered sends one input's records and returns once each has its
// verdict, so a checkpoint advanced after it never passes a record the
// server did not answer. It fails, leaving the checkpoint before the
// input, when any record went unanswered.
func (r *replayer) sendAnswered(ctx context.Context, name string, in io.Reader) error {
	r.mu.Lock()
	lostBefore := r.shown
	r.mu.Unlock()
	if err := r.send(ctx, name, in); err != nil {
		return err
	}
	if err := r.stream.Flush(ctx); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	// Flush returns once the results are delivered; wait until collect
	// has counted them.
	for {
		r.mu.Lock()
		counted := r.progress.answered.Load() + int64(r.shown)
		lost := r.shown - lostBefore
		r.mu.Unlock()
		if counted >= r.progress.sent.Load() {
			if lost > 0 {
				return fmt.Errorf("%s: %d records without a verdict; the checkpoint stays before this object", name, lost)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// skip counts a file a directory walk passed over.
func (r *replayer) skip(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.skip(path)
}

// collect takes every result: it counts the verdict and prints its
// findings, or counts and reports the record as unanswered.
func (r *replayer) collect() {
	for res := range r.stream.Results() {
		r.mu.Lock()
		if res.Err != nil {
			r.noVerdict(res)
		} else {
			r.progress.answered.Add(1)
			v := r.verdict(res)
			r.sum.add(&v)
			r.print(v.Findings)
			r.tell(res.Verdict.GetStories())
		}
		r.mu.Unlock()
	}
}

// print writes the findings not printed before in this run. A DUPLICATE
// verdict carries the original findings, which this run has not printed
// when the first delivery was answered to an earlier, killed run (or the
// answer was lost), so every verdict's findings are printed, once each.
func (r *replayer) print(fs []detectors.Finding) {
	for i := range fs {
		if r.writeErr != nil {
			return
		}
		k := printedKey(&fs[i])
		if _, done := r.printed[k]; done {
			continue
		}
		if r.printed == nil {
			r.printed = map[string]struct{}{}
		}
		r.printed[k] = struct{}{}
		r.writeErr = writeFinding(r.stdio.Out, r.f.format, &fs[i])
	}
}

// printedKey names a finding by its incident and its event, the event as
// the server deduplicates it (account, id, name, time).
func printedKey(f *detectors.Finding) string {
	return strings.Join([]string{f.Incident, f.AccountID, f.EventID, f.EventName, f.EventTime.UTC().Format(time.RFC3339Nano)}, "\x00")
}

const shownErrors = 5

func (r *replayer) noVerdict(res iamsentry.Result) {
	r.unanswered[res.Err.Error()]++
	if r.shown++; r.shown <= shownErrors {
		where := res.Tag.(at)
		fmt.Fprintf(r.stdio.Err, "iamsentry replay: %s %s: no verdict: %v\n", where.input, where.pos, res.Err)
	} else if r.shown == shownErrors+1 {
		fmt.Fprintf(r.stdio.Err, "iamsentry replay: more records without a verdict; counts in the summary\n")
	}
}

// printSummary says what became of every record read, in the words the
// progress lines use, then the outcomes as scan gives them.
func (r *replayer) printSummary() {
	m := &r.sum
	w := r.stdio.Err
	missing := 0
	for _, n := range r.unanswered {
		missing += n
	}
	read, sent, answered := r.progress.records.Load(), r.progress.sent.Load(), r.progress.answered.Load()
	learn := ""
	if m.learn {
		learn = " to learn (no findings raised)"
	}
	fmt.Fprintf(w, "replayed %d records from %d inputs to %s%s: %d sent, %d answered, %d unanswered; ",
		read, m.inputs, r.f.conn.addr, learn, sent, answered, missing)
	alerts, suppressed := m.totals()
	if m.learn {
		fmt.Fprintf(w, "%d scored, %d duplicates, %d invalid (%d before sending)\n", m.clean, m.duplicates, m.invalidN, r.notSent)
	} else {
		fmt.Fprintf(w, "%d clean, %d findings, %d suppressed, %d duplicates, %d invalid (%d before sending)\n",
			m.clean, alerts, suppressed, m.duplicates, m.invalidN, r.notSent)
	}
	m.printDetails(w)
	printCounts(w, "unanswered", r.unanswered, nil)
}

var outcomeFromProto = map[iamsentryv1.Outcome]engine.Outcome{
	iamsentryv1.Outcome_OUTCOME_CLEAN:      engine.OutcomeClean,
	iamsentryv1.Outcome_OUTCOME_ALERT:      engine.OutcomeAlert,
	iamsentryv1.Outcome_OUTCOME_DUPLICATE:  engine.OutcomeDuplicate,
	iamsentryv1.Outcome_OUTCOME_INVALID:    engine.OutcomeInvalid,
	iamsentryv1.Outcome_OUTCOME_SUPPRESSED: engine.OutcomeSuppressed,
}

// verdict turns a server verdict into the engine's, so replay counts and
// prints exactly as scan does.
func (r *replayer) verdict(res iamsentry.Result) engine.Verdict {
	v := res.Verdict
	out := engine.Verdict{EventID: v.GetEventId(), Outcome: outcomeFromProto[v.GetOutcome()]}
	if out.Outcome == engine.OutcomeInvalid {
		out.Reason = v.GetReason()
		if v.GetReasonCode() != "" {
			// Grouped by code and field as scan groups them; the message
			// stays the server's.
			out.Invalid = &cloudtrail.RecordError{Reason: cloudtrail.Reason(v.GetReasonCode()), Field: v.GetReasonField(), Detail: v.GetReason()}
		}
	}
	for _, f := range v.GetFindings() {
		out.Findings = append(out.Findings, detectorFinding(f))
	}
	return out
}

// detectorFinding returns f as the detectors package models it, so replay
// counts and prints it as scan does. It lives here, not in the client,
// because the client must not import detectors.
func detectorFinding(f *iamsentryv1.Finding) detectors.Finding {
	out := detectors.Finding{
		DetectorID: f.GetDetectorId(), Severity: detectors.Severity(f.GetSeverity()), Score: int(f.GetScore()),
		Title: f.GetTitle(), Explanation: f.GetExplanation(), Techniques: f.GetTechniques(),
		AccountID: f.GetAccountId(), PrincipalARN: f.GetPrincipalArn(), AccessKeyID: f.GetAccessKeyId(),
		SourceIP: f.GetSourceIp(), EventName: f.GetEventName(), EventTime: f.GetEventTime().AsTime(),
		EventID: f.GetEventId(), Evidence: f.GetEvidence(), Incident: f.GetIncident(), Story: f.GetStory(),
	}
	if s := f.GetSuppression(); s != nil {
		out.Suppressed = &detectors.Suppressed{Entry: int(s.GetEntry()), Reason: s.GetReason()}
	}
	return out
}

// storiesWriter opens where --stories and --stories-out send story
// updates: nil when neither is given. closeFile closes the file, if any.
func (f *replayFlags) storiesWriter(stdout io.Writer) (w io.Writer, closeFile func(), err error) {
	switch {
	case f.storiesOut != "":
		file, err := os.Create(f.storiesOut)
		if err != nil {
			return nil, nil, err
		}
		return file, func() { file.Close() }, nil
	case f.stories:
		return stdout, func() {}, nil
	}
	return nil, func() {}, nil
}

// tell writes the story updates not printed before in this run (a verdict
// whose first answer was lost may carry them again), as scan prints them.
func (r *replayer) tell(sts []*iamsentryv1.Story) {
	if r.stories == nil {
		return
	}
	for _, pb := range sts {
		if r.writeErr != nil {
			return
		}
		st := engineStory(pb)
		line, err := json.Marshal(&st)
		if err != nil {
			r.writeErr = err
			return
		}
		if _, done := r.told[string(line)]; done {
			continue
		}
		if r.told == nil {
			r.told = map[string]struct{}{}
		}
		r.told[string(line)] = struct{}{}
		r.writeErr = writeStory(r.stories, r.f.format, &st)
	}
}

// engineStory returns st as the engine models it, so replay prints it as
// scan does (the client must not import the engine).
func engineStory(st *iamsentryv1.Story) story.Story {
	out := story.Story{
		ID: st.GetId(), Severity: detectors.Severity(st.GetSeverity()),
		Identities: st.GetIdentities(), Incidents: st.GetIncidents(),
		FirstEventTime: st.GetFirstEventTime().AsTime(), LastEventTime: st.GetLastEventTime().AsTime(),
		Summary: st.GetSummary(), Supersedes: st.GetSupersedes(),
	}
	for _, g := range st.GetStages() {
		out.Stages = append(out.Stages, story.Stage(g))
	}
	return out
}
