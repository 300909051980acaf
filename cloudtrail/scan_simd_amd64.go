//go:build amd64

package cloudtrail

import "golang.org/x/sys/cpu"

// simdRuns says whether plainRun and asciiRun may take 32 bytes a step
// with AVX2 (scan_simd_amd64.s): on every x86-64 CPU since 2013 that
// runs an OS saving its vector registers.
var simdRuns = cpu.X86.HasAVX2

// plainRunAVX2 returns the index of the first byte of p[0:n] that is not
// plain (see plain), or n. It reads p[0:n] only, and needs n >= simdBlock.
//
//go:noescape
func plainRunAVX2(p *byte, n int) int

// asciiRunAVX2 is plainRunAVX2 for plainASCII.
//
//go:noescape
func asciiRunAVX2(p *byte, n int) int
