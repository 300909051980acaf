package detectortest

import (
	"math/rand/v2"
	"slices"
	"time"
)

// LateOrder returns stream in a delivery order in which each record arrives
// up to lateness after its event time, as CloudTrail delivers: every record
// gets a random delay (from seed, so a failing order can be replayed) and
// the stream is sorted by arrival. It panics on a record without a valid
// RFC 3339 eventTime: generated records always have one.
func LateOrder(stream []Rec, lateness time.Duration, seed uint64) []Rec {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type arrival struct {
		at  time.Time
		rec Rec
	}
	as := make([]arrival, len(stream))
	for i, r := range stream {
		at, err := time.Parse(time.RFC3339, r["eventTime"].(string))
		if err != nil {
			panic(err)
		}
		as[i] = arrival{at.Add(time.Duration(rng.Int64N(int64(lateness)))), r}
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return a.at.Compare(b.at) })
	out := make([]Rec, len(as))
	for i, a := range as {
		out[i] = a.rec
	}
	return out
}
