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
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/engine/story"
)

const scanDetails = `Reads CloudTrail files, directories or standard input ("-") and scores
the records in file order with the detectors serve runs, without a server.
A directory is walked recursively in lexical order and only its record
files are read (names ending .json, .jsonl or .ndjson, each optionally
.gz); the summary counts the files skipped. A file named on the command
line is read whatever its name. Accepts S3 delivery files
({"Records":[...]}), JSON arrays, JSON lines and single records,
gzip-compressed or not.

Findings go to standard output, one per line; a summary goes to standard
error. With --stories, attack stories (the findings of one actor chain, see
docs/findings.md) go to standard output too, one JSON line each
({"story":...,"severity":...,"stages":[...],"summary":...}) after the
findings of the batch that created or changed them; --stories-out writes
them to a file instead. Exit status: 0 when every input was read (invalid records are
counted, not fatal), 1 when an input could not be read, 2 on a usage error.`

type scanner struct {
	eng    *engine.Engine
	out    io.Writer
	format string
	batch  int
	learn  bool
	// stories receives the stories verdicts carry; nil leaves them out.
	stories io.Writer
	popts   cloudtrail.Options
	sum     scanSummary
	s3      *s3Input
	pending scanBatch // the batch being gathered
}

func scan(ctx context.Context, args []string, stdio Stdio) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration `file` (YAML); default: built-in defaults")
	format := fs.String("format", "json", "finding output: json (one JSON object per line) or text (for people)")
	batch := fs.Int("batch-size", 512, "records scored per micro-batch")
	maxRecord := fs.Int("max-record-size", cloudtrail.DefaultMaxRecordSize, "largest CloudTrail record accepted, `bytes`")
	redisURL := fs.String("redis", "", "score against shared state in Redis (`URL` or address list, as serve takes), so a backfill seeds what the servers read; overrides $REDIS_URL and the config's redis.url; default: an in-process store")
	var budget stateBudget
	fs.Var(&budget, "state-budget", stateBudgetUsage)
	stories := fs.Bool("stories", false, "also print attack stories (findings linked by actor chain) as JSON lines, after the findings of the batch that created or changed them")
	storiesOut := fs.String("stories-out", "", "write attack stories to `file` instead of standard output (implies --stories)")
	gcPercent := fs.Int("gc-percent", scanGCPercent, gcPercentUsage)
	learn := fs.Bool("learn", false, "only learn: update windows and baselines from the records without raising findings (seed state from history)")
	var s3f s3Flags
	s3f.register(fs)
	if code, ok := parseFlags(fs, args, stdio.Err); !ok {
		return code
	}
	if fs.NArg() == 0 || (*format != "json" && *format != "text") || *batch <= 0 {
		fs.Usage()
		return ExitUsage
	}
	if err := s3f.check(fs.Args()); err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry scan: %v\n", err)
		return ExitUsage
	}
	defer setScanGC(fs, *gcPercent)()
	built, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry scan: %v\n", err)
		return ExitError
	}
	defer built.Close()
	fmt.Fprintf(stdio.Err, "iamsentry scan: %s\n", built.geoNote)
	for _, n := range built.Notes {
		fmt.Fprintf(stdio.Err, "iamsentry scan: note: %s\n", n)
	}
	for _, w := range built.Warnings {
		fmt.Fprintf(stdio.Err, "iamsentry scan: warning: %s\n", w)
	}
	setting, _ := redisSetting(*redisURL, built)
	store, storeDesc, err := openStore(ctx, setting, budget, nil)
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry scan: %v\n", err)
		return ExitError
	}
	defer store.Close()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = waitForStore(wctx, store, nil)
	cancel()
	if err != nil {
		fmt.Fprintf(stdio.Err, "iamsentry scan: %v\n", err)
		return ExitError
	}
	fmt.Fprintf(stdio.Err, "iamsentry scan: state: %s\n", storeDesc)
	popts := cloudtrail.Options{MaxRecordSize: *maxRecord}
	s := &scanner{
		eng: engine.New(built.Registry, store, engine.Options{MaxRecordSize: *maxRecord, Suppress: built.Suppress}),
		out: stdio.Out, format: *format, batch: *batch, popts: popts, learn: *learn,
		s3:  &s3Input{flags: &s3f, log: stdio.Err, cmd: "scan"},
		sum: scanSummary{alerts: map[string]int{}, suppressed: map[string]int{}, reasons: map[string]int{}, learn: *learn},
	}
	switch {
	case *storiesOut != "":
		f, err := os.Create(*storiesOut)
		if err != nil {
			fmt.Fprintf(stdio.Err, "iamsentry scan: stories: %v\n", err)
			return ExitError
		}
		defer f.Close()
		s.stories = f
	case *stories:
		s.stories = stdio.Out
	}
	failed := false
	for _, arg := range fs.Args() {
		if err := s.scanArg(ctx, arg, stdio.In); err != nil {
			fmt.Fprintf(stdio.Err, "iamsentry scan: %v\n", err)
			failed = true
			if ctx.Err() != nil {
				break
			}
		}
	}
	s.sum.print(stdio.Err)
	if failed {
		return ExitError
	}
	return ExitOK
}

// scanArg scans one argument: "-" for stdin, a file, or a directory tree.
func (s *scanner) scanArg(ctx context.Context, arg string, stdin io.Reader) error {
	return eachInput(ctx, arg, stdin, s.s3, s.scanReader, s.sum.skip)
}

// scanReader reads one input's records and scores them in batches, in order.
func (s *scanner) scanReader(ctx context.Context, name string, r io.Reader) error {
	s.sum.inputs++
	rd := cloudtrail.NewReader(r, s.popts)
	// Scoring copies what it keeps of a record, so once a batch is scored
	// its bytes are released and the Reader reads into them again. Until
	// then the batch's records borrow their raw request, response and
	// additional data from those bytes (NextIntoBorrowed) rather than
	// each costing an allocation and a copy of them.
	defer rd.Release()
	b := &s.pending // one batch's slices serve every input
	defer b.reset(true)
	for {
		item, parsed, err := rd.NextIntoBorrowed(b.slot())
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if item.Err != nil {
			s.sum.invalid(item.Err)
			continue
		}
		if b.add(item.Raw, parsed); b.len() == s.batch {
			if err := s.score(ctx, name, b); err != nil {
				return err
			}
			b.reset(false)
			rd.Release()
		}
	}
	return s.score(ctx, name, b)
}

func (s *scanner) score(ctx context.Context, name string, b *scanBatch) error {
	if b.len() == 0 {
		return nil
	}
	vs, err := s.eng.ScoreParsed(ctx, engine.Batch{Records: b.raws, Learn: s.learn}, b.view())
	if err != nil {
		return fmt.Errorf("%s: scoring: %w", name, err)
	}
	for i := range vs {
		v := &vs[i]
		s.sum.add(v)
		if v.Outcome != engine.OutcomeAlert && v.Outcome != engine.OutcomeSuppressed {
			continue
		}
		for j := range v.Findings {
			if err := s.write(&v.Findings[j]); err != nil {
				return fmt.Errorf("writing findings: %w", err)
			}
		}
	}
	return s.writeStories(vs)
}

// writeStories prints the stories the batch created or changed.
func (s *scanner) writeStories(vs []engine.Verdict) error {
	if s.stories == nil {
		return nil
	}
	for i := range vs {
		for j := range vs[i].Stories {
			if err := writeStory(s.stories, s.format, &vs[i].Stories[j]); err != nil {
				return fmt.Errorf("writing stories: %w", err)
			}
		}
	}
	return nil
}

// writeJSONLine prints v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeStory prints a story as one JSON line (format "json") or as two
// lines for people ("text").
func writeStory(w io.Writer, format string, st *story.Story) error {
	if format == "json" {
		return writeJSONLine(w, st)
	}
	_, err := fmt.Fprintf(w, "%s  %-8s  STORY %s  %d finding(s)\n    %s\n",
		st.LastEventTime.Format("2006-01-02T15:04:05Z"), st.Severity, st.ID, len(st.Incidents), st.Summary)
	return err
}

func (s *scanner) write(f *detectors.Finding) error { return writeFinding(s.out, s.format, f) }

// writeFinding prints a finding as one JSON line (format "json") or as two
// lines for people ("text").
func writeFinding(w io.Writer, format string, f *detectors.Finding) error {
	if format == "json" {
		return writeJSONLine(w, f)
	}
	sev := f.Severity.String()
	var note string
	if f.Suppressed != nil {
		sev = "suppr."
		note = fmt.Sprintf("\n    suppressed by suppress[%d]: %s", f.Suppressed.Entry, f.Suppressed.Reason)
	}
	_, err := fmt.Fprintf(w, "%s  %-8s  %s  %s\n    %s%s\n",
		f.EventTime.Format("2006-01-02T15:04:05Z"), sev, f.DetectorID, f.EventID, f.Explanation, note)
	return err
}

// scanSummary counts what a scan saw.
type scanSummary struct {
	inputs, records, clean, duplicates int
	alerts                             map[string]int    // "detector severity" → findings
	suppressed                         map[string]int    // "detector suppress[i]" → findings
	reasons                            map[string]int    // invalid reason → records
	examples                           map[string]string // invalid reason → its first message
	invalidN                           int
	skipped                            []string // files of walked directories that are not record files
	learn                              bool
}

// skip counts a file a directory walk passed over.
func (m *scanSummary) skip(path string) { m.skipped = append(m.skipped, path) }

func (m *scanSummary) add(v *engine.Verdict) {
	switch v.Outcome {
	case engine.OutcomeInvalid:
		var err error = v.Invalid
		if v.Invalid == nil {
			err = errors.New(v.Reason)
		}
		m.invalid(err)
		return
	case engine.OutcomeClean:
		m.clean++
	case engine.OutcomeDuplicate:
		m.duplicates++
	case engine.OutcomeAlert, engine.OutcomeSuppressed:
		for _, f := range v.Findings {
			if f.Suppressed != nil {
				m.suppressed[fmt.Sprintf("%s suppress[%d]", f.DetectorID, f.Suppressed.Entry)]++
				continue
			}
			m.alerts[f.DetectorID+" "+f.Severity.String()]++
		}
	}
	m.records++
}

// invalid counts a rejected record under its reason: the parser's stable
// reason code and field where there are some, so counts group well, with
// the first message of each as an example.
func (m *scanSummary) invalid(err error) {
	m.records++
	m.invalidN++
	key := err.Error()
	if re, ok := errors.AsType[*cloudtrail.RecordError](err); ok {
		key = strings.TrimSpace(string(re.Reason) + " " + re.Field)
	}
	if m.reasons[key]++; m.reasons[key] == 1 && key != err.Error() {
		if m.examples == nil {
			m.examples = map[string]string{}
		}
		m.examples[key] = err.Error()
	}
}

func (m *scanSummary) print(w io.Writer) {
	alerts, suppressed := m.totals()
	if m.learn {
		fmt.Fprintf(w, "learned from %d records from %d inputs (no findings raised): %d scored, %d duplicates, %d invalid\n",
			m.records, m.inputs, m.clean, m.duplicates, m.invalidN)
	} else {
		fmt.Fprintf(w, "scanned %d records from %d inputs: %d clean, %d findings, %d suppressed, %d duplicates, %d invalid\n",
			m.records, m.inputs, m.clean, alerts, suppressed, m.duplicates, m.invalidN)
	}
	m.printDetails(w)
}

// totals returns the findings that alert and those suppressed.
func (m *scanSummary) totals() (alerts, suppressed int) {
	for _, n := range m.alerts {
		alerts += n
	}
	for _, n := range m.suppressed {
		suppressed += n
	}
	return alerts, suppressed
}

func (m *scanSummary) printDetails(w io.Writer) {
	printCounts(w, "findings", m.alerts, nil)
	printCounts(w, "suppressed", m.suppressed, nil)
	printCounts(w, "invalid", m.reasons, m.examples)
	printSkipped(w, m.skipped)
}

// plural is "1 file", "2 files".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// shownSkipped is how many skipped files the summary names.
const shownSkipped = 3

// printSkipped says how many files of walked directories were not read,
// naming the first few, so a record file with an unexpected name is
// noticed.
func printSkipped(w io.Writer, paths []string) {
	if len(paths) == 0 {
		return
	}
	names := strings.Join(paths[:min(len(paths), shownSkipped)], ", ")
	if len(paths) > shownSkipped {
		names += ", ..."
	}
	fmt.Fprintf(w, "  skipped: %s not named as records (%s): %s\n", plural(len(paths), "file"), recordExtsText, names)
}

// printCounts prints one line per key, sorted, with its count and its
// example when there is one.
func printCounts(w io.Writer, title string, counts map[string]int, examples map[string]string) {
	keys := make([]string, 0, len(counts))
	for k, n := range counts {
		if n > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		eg := ""
		if examples[k] != "" {
			eg = "  e.g. " + examples[k]
		}
		fmt.Fprintf(w, "  %s: %-60s %d%s\n", title, strings.TrimSpace(k), counts[k], eg)
	}
}
