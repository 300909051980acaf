//go:build !amd64

package cloudtrail

// simdRuns is false where the runs have no vector code: they go word by
// word (scan_swar.go).
const simdRuns = false

func plainRunAVX2(p *byte, n int) int {
	panic("cloudtrail: no vector string runs on this architecture")
}

func asciiRunAVX2(p *byte, n int) int {
	panic("cloudtrail: no vector string runs on this architecture")
}
