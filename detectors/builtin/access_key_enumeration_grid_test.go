package builtin

import (
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// TestEnumGridWindows: consecutive windows of a scale alternate grids;
// the windows of one grid get distinct tags until the tags wrap, which is
// far beyond what lateness lets a read still add to; times before 1970
// align as after; and tagging round-trips.
func TestEnumGridWindows(t *testing.T) {
	for _, tc := range []struct {
		w, lateness time.Duration
		tagLen      int
	}{
		{time.Minute, 15 * time.Minute, 1},
		{10 * time.Minute, 15 * time.Minute, 1},
		{6 * time.Hour, 15 * time.Minute, 1},
		{10 * time.Second, 24 * time.Hour, 3}, // 4322 live windows
	} {
		t.Run(fmt.Sprint(tc.w, " late ", tc.lateness), func(t *testing.T) {
			g := newEnumGrid("x", tc.w, tc.lateness)
			if g.tagLen != tc.tagLen {
				t.Errorf("tag length %d, want %d", g.tagLen, tc.tagLen)
			}
			live := 2 + int64(tc.lateness/(2*tc.w))
			if g.tags < 2*live {
				t.Errorf("rule: a grid's tags outnumber the windows a read within lateness can add to; %d tags, %d live windows", g.tags, live)
			}
			for _, base := range []time.Time{time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)} {
				start := base.Add(-tc.w) // aligned: base is a multiple of every width here
				seen := map[[2]int64]int{}
				first, _ := g.window(start)
				for i := range 2 * int(min(g.tags, 1000)) {
					grid, tag := g.window(start.Add(time.Duration(i) * tc.w))
					if grid != (first+i)%2 {
						t.Fatalf("window %d after %v: grid %d does not alternate", i, start, grid)
					}
					if tag < 0 || tag >= g.tags {
						t.Fatalf("window %d after %v: tag %d out of [0, %d)", i, start, tag, g.tags)
					}
					if j, dup := seen[[2]int64{int64(grid), tag}]; dup {
						t.Fatalf("windows %d and %d after %v share grid %d and tag %d", j, i, start, grid, tag)
					}
					seen[[2]int64{int64(grid), tag}] = i
					m := g.tagged(tag, "iam:ListUsers!")
					if len(m) != g.tagLen+len("iam:ListUsers!") || untag(m, g.tagLen) != "iam:ListUsers!" {
						t.Fatalf("tag %d: tagged %q does not untag", tag, m)
					}
				}
			}
		})
	}
	if got := untag("", 1); got != "" {
		t.Errorf("untag of a member shorter than its tag = %q", got)
	}
}

// TestEnumReadIsNewRead: the remembered reading of an API is what working
// it out anew gives, for plain, ignored, sensitive, denied and Cloud
// Control reads (which are not remembered: their type is in the request).
func TestEnumReadIsNewRead(t *testing.T) {
	d, err := NewAccessKeyEnumeration(detectors.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ake := d.(*AccessKeyEnumeration)
	recs := []*cloudtrail.Record{
		{EventSource: "ec2.amazonaws.com", EventName: "DescribeInstances"},
		{EventSource: "iam.amazonaws.com", EventName: "ListUsers"},
		{EventSource: "s3.amazonaws.com", EventName: "GetObject"},
		{EventSource: "ssm.amazonaws.com", EventName: "GetParameters"},
		{EventSource: "ssm.amazonaws.com", EventName: "DescribeInstanceInformation"},
		{EventSource: "cloudcontrolapi.amazonaws.com", EventName: "ListResources", RequestParameters: []byte(`{"typeName":"AWS::SecretsManager::Secret"}`)},
		{EventSource: "cloudcontrolapi.amazonaws.com", EventName: "ListResources", RequestParameters: []byte(`{"typeName":"AWS::EC2::VPC"}`)},
		// The same name's bytes (one literal) with another source: found
		// by the name's address, the read is still the source's.
		{EventSource: "rds.amazonaws.com", EventName: "DescribeInstances"},
		{EventSource: "iam.amazonaws.com", EventName: "GetObject"},
	}
	for range 3 {
		for _, r := range recs {
			got, want := ake.read(r), ake.newRead(r)
			if got.action != want.action || got.svc != want.svc || got.svcKey != want.svcKey || got.ignored != want.ignored ||
				got.sensitive != want.sensitive || got.members[0].base != want.action || got.members[1].base != want.action+deniedSuffix {
				t.Errorf("%s %s: remembered %s %s %s %v %v, anew %s %s %s %v %v", r.EventSource, r.EventName,
					got.action, got.svc, got.svcKey, got.ignored, got.sensitive, want.action, want.svc, want.svcKey, want.ignored, want.sensitive)
			}
		}
	}
}

// TestEnumReadAddressIsOnlyAHint: an event name whose bytes changed at the
// address the read before was found by (collected and reused) is read as
// what it now says.
func TestEnumReadAddressIsOnlyAHint(t *testing.T) {
	d, err := NewAccessKeyEnumeration(detectors.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ake := d.(*AccessKeyEnumeration)
	buf := []byte("ListUsers")
	for range 2 {
		for _, name := range []string{"ListUsers", "ListRoles", "ListRoles", "GetPolicy", "ListUsers"} {
			copy(buf, name)
			r := &cloudtrail.Record{EventSource: "iam.amazonaws.com", EventName: unsafe.String(&buf[0], len(buf))}
			if got, want := ake.read(r).action, "iam:"+name; got != want {
				t.Errorf("read of %s at the address of the read before = %s", want, got)
			}
		}
	}
}
