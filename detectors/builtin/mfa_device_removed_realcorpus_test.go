package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/detectors/builtin"
	"github.com/iamsentry/iamsentry/engine"
	"github.com/iamsentry/iamsentry/internal/racetest"
	"github.com/iamsentry/iamsentry/internal/realcorpus"
	"github.com/iamsentry/iamsentry/internal/realcorpus/realcorpusrules"
	"github.com/iamsentry/iamsentry/state/memory"
)

// TestMFADeviceRemovedRealisticMonth scores the realistic month and then, for every IAM user in it, the removal of the user's own
// MFA device an hour after the month: once from the address the user
// worked from most (the phone replaced at the desk), once from a
// residential proxy in Brazil, where nobody of the organisation works. The
// desk removals must all stay LOW, whatever the user's keys, console
// sessions, homes and jump hosts did during the month; the proxy ones
// must all be MEDIUM or above, except for the users whose keys the
// month's woven-in attacks already used from that network (it is then
// a place of theirs, and access-key-new-location raised it).
func TestMFADeviceRemovedRealisticMonth(t *testing.T) {
	if testing.Short() {
		t.Skip("scores the realistic month")
	}
	racetest.SkipLong(t)
	built := realcorpusrules.Build(t)
	for _, seed := range []uint64{1} {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			c := realcorpus.Generate(realcorpus.Options{Seed: seed})
			users := mfaCorpusUsers(t, c)
			if len(users) == 0 {
				t.Fatal("the realistic month has no IAM user: the test proves nothing")
			}
			eng := engine.New(built.Registry, memory.New(memory.WithSweepInterval(0)), engine.Options{Suppress: built.Suppress})
			for off := 0; off < len(c.Records); off += 512 {
				raws := make([][]byte, 0, 512)
				for _, r := range c.Records[off:min(off+512, len(c.Records))] {
					raws = append(raws, r.JSON)
				}
				if _, err := eng.Score(context.Background(), engine.Batch{Records: raws}); err != nil {
					t.Fatal(err)
				}
			}
			at := c.Records[len(c.Records)-1].Time.Add(time.Hour)
			desk := mfaCorpusRemovals(t, eng, users, at, "")
			var fresh []mfaCorpusUser
			for _, u := range users {
				if !u.fromProxyNet {
					fresh = append(fresh, u)
				}
			}
			proxy := mfaCorpusRemovals(t, eng, fresh, at.Add(time.Minute), "45.224.1.9")
			t.Logf("%d IAM users; removal at the desk: %v; from a Brazilian residential proxy, for the %d users "+
				"the month's attacks did not use from there: %v", len(users), desk, len(fresh), proxy)
			if n := len(users) - desk["LOW"]; n != 0 {
				t.Errorf("rule: a user's own removal from where it works is LOW; %d of %d were not: %v", n, len(users), desk)
			}
			if n := proxy["LOW"] + proxy["none"]; n != 0 || len(fresh) == 0 {
				t.Errorf("rule: a user's own removal from a country it never worked from is MEDIUM or above; %d of %d were not: %v", n, len(fresh), proxy)
			}
		})
	}
}

// mfaCorpusUser is an IAM user of the month: a record of its own, from
// the address it used most, to build its removal from.
type mfaCorpusUser struct {
	name   string
	record map[string]any
	// fromProxyNet: the woven-in attacks used the user's credentials from
	// the Brazilian proxy network during the month, which taught it.
	fromProxyNet bool
}

// mfaCorpusUsers returns the IAM users of c's benign records, each with
// its last record from its most used source address.
func mfaCorpusUsers(t *testing.T, c *realcorpus.Corpus) []mfaCorpusUser {
	t.Helper()
	attack := map[string]bool{}
	for _, a := range c.Attacks {
		for _, id := range a.EventIDs {
			attack[id] = true
		}
	}
	type seen struct {
		count map[string]int
		last  map[string]map[string]any
	}
	byUser := map[string]*seen{}
	proxied := map[string]bool{}
	proxyNet := netip.MustParsePrefix("45.224.0.0/12")
	for _, r := range c.Records {
		var m map[string]any
		if err := json.Unmarshal(r.JSON, &m); err != nil {
			t.Fatal(err)
		}
		u, _ := m["userIdentity"].(map[string]any)
		name, _ := u["userName"].(string)
		ip, _ := m["sourceIPAddress"].(string)
		if addr, err := netip.ParseAddr(ip); err == nil && proxyNet.Contains(addr) {
			proxied[name] = true
		}
		if u["type"] != "IAMUser" || name == "" || attack[fmt.Sprint(m["eventID"])] || m["errorCode"] != nil {
			continue
		}
		s := byUser[name]
		if s == nil {
			s = &seen{count: map[string]int{}, last: map[string]map[string]any{}}
			byUser[name] = s
		}
		s.count[ip]++
		s.last[ip] = m
	}
	var out []mfaCorpusUser
	for _, name := range slices.Sorted(maps.Keys(byUser)) {
		s := byUser[name]
		best := ""
		for _, ip := range slices.Sorted(maps.Keys(s.count)) {
			if best == "" || s.count[ip] > s.count[best] {
				best = ip
			}
		}
		out = append(out, mfaCorpusUser{name: name, record: s.last[best], fromProxyNet: proxied[name]})
	}
	return out
}

// mfaCorpusRemovals scores each user's removal of its own device at at,
// from ip ("" for the user's own address), and counts the highest
// severity of each removal's mfa-device-removed findings ("none" when it
// raised none).
func mfaCorpusRemovals(t *testing.T, eng *engine.Engine, users []mfaCorpusUser, at time.Time, ip string) map[string]int {
	t.Helper()
	var raws [][]byte
	for i, u := range users {
		m := maps.Clone(u.record)
		for _, k := range []string{"errorCode", "errorMessage", "responseElements", "resources"} {
			delete(m, k)
		}
		m["eventSource"], m["eventName"] = "iam.amazonaws.com", "DeactivateMFADevice"
		m["eventTime"] = at.Add(time.Duration(i) * time.Second).Format(time.RFC3339)
		m["eventID"] = fmt.Sprintf("mfa-removal-%s-%d", ip, i)
		m["readOnly"] = false
		m["requestParameters"] = map[string]any{"userName": u.name, "serialNumber": "arn:aws:iam::111122223333:mfa/" + u.name}
		if ip != "" {
			m["sourceIPAddress"] = ip
		}
		raw, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	vs, err := eng.Score(context.Background(), engine.Batch{Records: raws})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, v := range vs {
		best := "none"
		for _, f := range v.Findings {
			if f.DetectorID == builtin.MFADeviceRemovedID && (best == "none" || mfaRank(f.Severity.String()) > mfaRank(best)) {
				best = f.Severity.String()
			}
		}
		counts[best]++
	}
	return counts
}
