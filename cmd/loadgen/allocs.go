package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// heapCounters are a spawned server's cumulative heap allocations, read
// from the Go collector on its admin /metrics: the difference over a run,
// divided by the events, is a figure the machine's noise cannot move
// (unlike CPU seconds), so a change to the serving path can be judged by it.
type heapCounters struct {
	mallocs, bytes float64
}

// readHeapCounters scrapes go_memstats_mallocs_total and
// go_memstats_alloc_bytes_total from the admin listener at addr.
func readHeapCounters(ctx context.Context, addr string) (heapCounters, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return heapCounters{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return heapCounters{}, fmt.Errorf("server /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return heapCounters{}, fmt.Errorf("server /metrics: %s", resp.Status)
	}
	var h heapCounters
	seen := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		var dst *float64
		switch {
		case !ok:
			continue
		case name == "go_memstats_mallocs_total":
			dst = &h.mallocs
		case name == "go_memstats_alloc_bytes_total":
			dst = &h.bytes
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(strings.TrimSpace(value), 64); err != nil {
			return heapCounters{}, fmt.Errorf("server /metrics %s: %w", name, err)
		}
		seen++
	}
	if err := sc.Err(); err != nil {
		return heapCounters{}, fmt.Errorf("server /metrics: %w", err)
	}
	if seen != 2 {
		return heapCounters{}, fmt.Errorf("server /metrics lacks go_memstats_mallocs_total or go_memstats_alloc_bytes_total")
	}
	return h, nil
}
