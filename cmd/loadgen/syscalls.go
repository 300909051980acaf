package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ioCounters are a process's read- and write-class system calls so far
// (syscr and syscw of /proc/<pid>/io, all its threads): a spawned server's
// difference over a run, per event, says how many socket reads and writes
// an event costs it (gRPC frames in and out, Redis pipelines), a figure the
// machine's noise cannot move.
type ioCounters struct{ reads, writes int64 }

// readIOCounters reads /proc/<pid>/io.
func readIOCounters(pid int) (ioCounters, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return ioCounters{}, err
	}
	defer f.Close()
	return parseIOCounters(f)
}

// parseIOCounters reads syscr and syscw from the text of /proc/<pid>/io.
func parseIOCounters(r io.Reader) (ioCounters, error) {
	var c ioCounters
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "syscr":
			dst = &c.reads
		case "syscw":
			dst = &c.writes
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return ioCounters{}, fmt.Errorf("/proc io %s: %w", name, err)
		}
		*dst = n
		seen++
	}
	if err := sc.Err(); err != nil {
		return ioCounters{}, err
	}
	if seen != 2 {
		return ioCounters{}, fmt.Errorf("/proc io: syscr or syscw missing")
	}
	return c, nil
}
