package builtin

import "time"

// reconGrid is where caller-identity-recon keeps a principal's pairing
// sets: per kind (probe, discovery, sensitive discovery), two windowed
// sets, one per grid. The aligned windows of width Window whose index
// (start / Window) is even tile time with gaps of one window between them,
// and so do the odd ones; each grid is one set, and a read cut to one of
// its windows counts that window's members only, since every member's time
// lies in its own window. Members name their event time, so a call made
// again in a later window is another member, never the earlier one moved.
//
// Held this way a principal's pairing state is bounded by event time: each
// add drops the members older than the set's TTL of event time
// (reconGridTTL), where a set per window, named by its start, lived on for
// its wall-clock TTL, so a replayed month kept every window of it.
type reconGrid struct {
	probe, disc, sdisc [2]string // state key names, by the parity of a window's index
	width              int64     // Window in nanoseconds
}

func newReconGrid(w time.Duration) reconGrid {
	return reconGrid{
		probe: [2]string{"recon:grid:probe:0", "recon:grid:probe:1"},
		disc:  [2]string{"recon:grid:disc:0", "recon:grid:disc:1"},
		sdisc: [2]string{"recon:grid:sdisc:0", "recon:grid:sdisc:1"},
		width: int64(w),
	}
}

// reconGridTTL is the TTL of the grid sets, of event time and of the
// key: 2·Window + lateness, so an add in a grid's next window
// (its start at least 2·Window after the earlier one's) never drops a
// member of the earlier window while a partner within Window of it may
// still arrive within lateness, with a Window to spare for streams scored
// concurrently out of event-time order (issue 13's lost incident).
func reconGridTTL(o CallerIdentityReconOptions) time.Duration {
	return 2*o.Window + o.AllowedLateness
}

// of returns the parity (0 or 1) of the aligned window win.
func (g *reconGrid) of(win window) int {
	return int(alignedIndex(win.Start, g.width) & 1)
}
