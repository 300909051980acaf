package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progress counts how far a replay got and reports it: a bar redrawn in
// place when its writer is a terminal, a plain line now and then otherwise
// (logs, CI). The ETA comes from input bytes read against the total size of
// the input files, so it needs no first pass over the records; on stdin
// there is none. Its record counts are the ones replay's summary gives:
// records read = sent + invalid before sending; sent = answered +
// unanswered.
type progress struct {
	w        io.Writer
	bar      bool
	every    time.Duration
	total    int64        // input bytes, 0 when unknown
	read     atomic.Int64 // input bytes read so far
	records  atomic.Int64 // records read from the inputs
	sent     atomic.Int64 // records handed to the stream
	answered atomic.Int64 // records the server returned a verdict for
	start    time.Time
	stop     chan struct{}
	done     chan struct{}
}

// newProgress returns a reporter on w in mode auto, bar, plain or off;
// every is the redraw interval (0: 200 ms for the bar, 10 s for lines).
func newProgress(w io.Writer, mode string, every time.Duration, total int64) *progress {
	if mode == "auto" {
		mode = "plain"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	p := &progress{w: w, bar: mode == "bar", every: every, total: total, start: time.Now(),
		stop: make(chan struct{}), done: make(chan struct{})}
	if p.every <= 0 {
		p.every = 10 * time.Second
		if p.bar {
			p.every = 200 * time.Millisecond
		}
	}
	if mode == "off" {
		close(p.done)
		return p
	}
	go p.run()
	return p
}

func (p *progress) run() {
	defer close(p.done)
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			p.draw(true)
			return
		case <-t.C:
			p.draw(false)
		}
	}
}

// finish draws the last state and stops.
func (p *progress) finish() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.stop)
	<-p.done
}

// reader counts the bytes read through r.
func (p *progress) reader(r io.Reader) io.Reader { return &countingReader{r: r, n: &p.read} }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

func (p *progress) draw(last bool) {
	elapsed := time.Since(p.start)
	records, sent, n := p.records.Load(), p.sent.Load(), p.answered.Load()
	rate := float64(n) / max(elapsed.Seconds(), 1e-9)
	frac := -1.0
	if p.total > 0 {
		frac = min(float64(p.read.Load())/float64(p.total), 1)
	}
	eta := ""
	if frac > 0 && !last {
		eta = "  ETA " + (time.Duration(float64(elapsed) * (1 - frac) / frac)).Round(time.Second).String()
	}
	if !p.bar {
		pct := ""
		if frac >= 0 {
			pct = fmt.Sprintf(", %.0f%% of input read", frac*100)
		}
		state := "replay: progress"
		if last {
			state = "replay: done"
		}
		fmt.Fprintf(p.w, "%s: %d records read, %d sent, %d answered in %s, %.0f answered/s%s%s\n",
			state, records, sent, n, elapsed.Round(time.Second), rate, pct, eta)
		return
	}
	const width = 30
	bar, pct := strings.Repeat("?", width), "  ?%"
	if frac >= 0 {
		full := int(frac * width)
		bar = strings.Repeat("=", full) + strings.Repeat(" ", width-full)
		pct = fmt.Sprintf("%3.0f%%", frac*100)
	}
	end := ""
	if last {
		end = "\n"
	}
	fmt.Fprintf(p.w, "\r[%s] %s  %d read, %d sent, %d answered  %.0f answered/s%s\033[K%s", bar, pct, records, sent, n, rate, eta, end)
}
