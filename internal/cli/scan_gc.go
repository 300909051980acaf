package cli

import (
	"flag"
	"os"
	"runtime/debug"
)

// scanGCPercent is scan's default garbage-collection target (GOGC).
//
// A scan keeps little alive but the state store, and allocates a record's
// worth of short-lived garbage per event, so at Go's default of 100 the
// collector spent about a fifth of a scan's CPU. Measured on a realistic
// month (181,861 records, 145 identities, medians of 3, this 2-core
// machine): GOGC 100 5.4 CPU-s at 300 MB peak RSS; 200 4.4 CPU-s at
// 400 MB; 400 4.1 CPU-s at 570 MB; off 3.9 CPU-s at 1.4 GB. 200 is the
// knee: most of the gain for a third more memory. A set GOMEMLIMIT still
// caps the heap whatever the percentage.
//
// Measured again once state and parsing had shrunk (same month, medians of
// 4 interleaved runs, machine loaded): the live heap at the end is about
// 52 MB, four fifths of it the store's state (a heap profile a third of
// the way in: 28 of 35 MB, half of that the dedupe claims of event ids),
// the rest the parser's memos, the batch and GeoIP; the Reader's buffers
// are pooled and its garbage is one allocation per record. So peak RSS is about
// (1 + GOGC/100) times that plus the runtime: 100 → 126 MiB, 30 collections,
// 32k page faults; 200 → 164 MiB, 14 collections, 39k faults; 300 →
// 196 MiB, 9-10 collections, 47k faults. The page faults are first
// touches of a heap that grows to its goal (none come back after the
// scavenger), so they follow peak RSS. CPU moved less than the noise
// (2.14, 2.18, 2.22 s user+sys), so 200 stays: fewer collections as the
// state grows over a longer backtest, for about 40 MB.
const scanGCPercent = 200

const gcPercentUsage = "garbage-collection target percentage (as GOGC): higher trades memory for CPU; -1 turns the collector off; $GOGC, when set, replaces the default (higher than Go's 100: scan holds little but state, so a backtest spends less CPU on collection for about a third more memory)"

// setScanGC applies --gc-percent (given, or its default unless GOGC is set
// in the environment) and returns the function that restores the previous
// setting, for callers such as tests that run scan in-process.
func setScanGC(fs *flag.FlagSet, percent int) (restore func()) {
	return setGCPercent(flagGiven(fs, "gc-percent"), percent)
}

// setGCPercent sets the collector's target to percent, unless the flag
// that names it was not given and GOGC is set in the environment (which
// the runtime already applied), and returns the function that restores
// the previous setting.
func setGCPercent(given bool, percent int) (restore func()) {
	if !given && os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(percent)
	return func() { debug.SetGCPercent(prev) }
}

// flagGiven reports whether the flag name was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
