package story_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/engine/story"
)

var t0 = time.Date(2025, 3, 11, 14, 0, 0, 0, time.UTC)

func entry(incident string, sev detectors.Severity, stage story.Stage, after time.Duration) story.Entry {
	return story.Entry{Incident: incident, Detector: incident, Severity: sev, Stage: stage, Time: t0.Add(after),
		Principal: "arn:aws:iam::111122223333:user/alice", Key: "AKIAALICE", SourceIP: "198.18.7.7", EventName: "Call"}
}

const (
	low, medium, high, critical             = detectors.SeverityLow, detectors.SeverityMedium, detectors.SeverityHigh, detectors.SeverityCritical
	access, recon, persist, escalate, creds = story.StageInitialAccess, story.StageDiscovery, story.StagePersistence,
		story.StagePrivilegeEscalation, story.StageCredentialAccess
)

func TestSeverity(t *testing.T) {
	checkSeverities(t, []severityCase{
		{"one stage is LOW whatever its findings", []story.Entry{entry("a", low, recon, 0), entry("b", medium, recon, time.Minute)}, low},
		{"one stage is capped at its own", []story.Entry{entry("a", low, persist, 0)}, low},
		{"two stages do not rise alone", []story.Entry{entry("a", low, recon, 0), entry("b", low, persist, time.Minute)}, low},
		{"textbook takeover is HIGH", []story.Entry{entry("loc", medium, access, 0), entry("recon", medium, recon, time.Minute),
			entry("key", low, persist, 3*time.Minute)}, high},
		{"textbook takeover with recon LOW on a fresh principal is HIGH", []story.Entry{entry("loc", medium, access, 0),
			entry("recon", low, recon, time.Minute), entry("key", low, persist, 3*time.Minute)}, high},
		{"self-made key MEDIUM after a new location is not critical", []story.Entry{entry("loc", medium, access, 0),
			entry("key", medium, persist, time.Minute)}, medium},
		{"HIGH persistence after a new location is CRITICAL", []story.Entry{entry("loc", medium, access, 0),
			entry("key", high, persist, time.Minute)}, critical},
		{"escalation after exfiltration is CRITICAL", []story.Entry{entry("x", medium, creds, 0), entry("adm", high, escalate, time.Minute)}, critical},
		{"escalation before the way in is not CRITICAL", []story.Entry{from(entry("adm", high, escalate, 0), "203.0.113.10"),
			entry("loc", medium, access, time.Minute)}, medium},
		{"LOW way in does not make CRITICAL", []story.Entry{entry("loc", low, access, 0), entry("adm", high, escalate, time.Minute)}, low},
		{"INFO findings add no stage", []story.Entry{entry("a", detectors.SeverityInfo, access, 0), entry("b", low, recon, 0),
			entry("c", low, persist, 0)}, low},
	})
}

func reversed(es []story.Entry) []story.Entry {
	out := slices.Clone(es)
	slices.Reverse(out)
	return out
}

func TestBuildIsOrderFree(t *testing.T) {
	es := []story.Entry{entry("loc", medium, access, 0), entry("recon", medium, recon, time.Minute),
		entry("key", low, persist, 3*time.Minute), entry("recon", medium, recon, time.Minute)}
	a, _ := story.Build(es)
	b, _ := story.Build(reversed(es))
	if a.ID != b.ID || a.Summary != b.Summary || !slices.Equal(a.Stages, b.Stages) || !slices.Equal(a.Incidents, b.Incidents) {
		t.Errorf("order changed the story:\n%+v\n%+v", a, b)
	}
	if len(a.Incidents) != 3 {
		t.Errorf("incidents %v: a repeated incident counts once", a.Incidents)
	}
	if want := []story.Stage{access, recon, persist}; !slices.Equal(a.Stages, want) {
		t.Errorf("stages %v, want %v (in the order reached)", a.Stages, want)
	}
	if !a.FirstEventTime.Equal(t0) || !a.LastEventTime.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("times %v..%v", a.FirstEventTime, a.LastEventTime)
	}
	for _, want := range []string{"user/alice", "198.18.7.7", "initial-access", "then"} {
		if !strings.Contains(a.Summary, want) {
			t.Errorf("summary lacks %q: %s", want, a.Summary)
		}
	}
	if _, ok := story.Build(nil); ok {
		t.Error("an empty story was built")
	}
}

func TestSupersedes(t *testing.T) {
	late := entry("late", low, recon, 5*time.Minute)
	late.Story = "story-old"
	early := entry("early", medium, access, 0) // arrived after late, earlier in event time
	s, _ := story.Build([]story.Entry{late, early})
	if s.ID == "story-old" || !slices.Equal(s.Supersedes, []string{"story-old"}) {
		t.Errorf("story %s supersedes %v, want [story-old]", s.ID, s.Supersedes)
	}
}

func TestStageOf(t *testing.T) {
	cases := map[string]story.Stage{
		"T1078.004": access, "T1087.004": recon, "T1098.001": persist, "T1098": escalate, "T1098.003": escalate,
		"T1552.005": creds, "T1562.008": story.StageDefenseEvasion, "T9999": "",
	}
	for tech, want := range cases {
		if got := story.StageOf([]string{tech}); got != want {
			t.Errorf("StageOf(%s) = %q, want %q", tech, got, want)
		}
	}
	if got := story.StageOf([]string{"T9999", "T1098.001"}); got != persist {
		t.Errorf("first known technique decides: got %q", got)
	}
}

func parse(t *testing.T, js string) *cloudtrail.Record {
	t.Helper()
	r, err := cloudtrail.Parse([]byte(js), cloudtrail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const recordHead = `{"eventVersion":"1.09","eventID":"e1","eventTime":"2025-03-11T14:00:00Z","awsRegion":"us-east-1","sourceIPAddress":"198.18.7.7","recipientAccountId":"111122223333",`

func TestActorsAndCreated(t *testing.T) {
	cases := []struct {
		name            string
		js              string
		actors, created []string
	}{
		{"user with key makes a key for another user", recordHead + `"eventSource":"iam.amazonaws.com","eventName":"CreateAccessKey",
			"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/alice","accountId":"111122223333","accessKeyId":"AKIAALICE","userName":"alice"},
			"requestParameters":{"userName":"bob"},"responseElements":{"accessKey":{"accessKeyId":"AKIABOB","userName":"bob"}}}`,
			[]string{"user:111122223333:alice", "key:AKIAALICE"}, []string{"user:111122223333:bob", "key:AKIABOB"}},
		{"session with source identity changes a role", recordHead + `"eventSource":"iam.amazonaws.com","eventName":"UpdateAssumeRolePolicy",
			"userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/Dev/alice@example.com","accountId":"111122223333","accessKeyId":"ASIAX",
			"sessionContext":{"sourceIdentity":"alice@example.com"}},"requestParameters":{"roleName":"Target"}}`,
			[]string{"session:111122223333:Dev/alice@example.com", "key:ASIAX", "role:111122223333:Dev", "source:alice@example.com"},
			[]string{"role:111122223333:Target"}},
		{"assume role makes a session", recordHead + `"eventSource":"sts.amazonaws.com","eventName":"AssumeRole",
			"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAALICE"},
			"responseElements":{"credentials":{"accessKeyId":"ASIANEW"},"assumedRoleUser":{"arn":"arn:aws:sts::111122223333:assumed-role/Admin/x"}}}`,
			[]string{"user:111122223333:alice", "key:AKIAALICE"}, []string{"key:ASIANEW", "session:111122223333:Admin/x"}},
		{"failed calls create nothing", recordHead + `"eventSource":"iam.amazonaws.com","eventName":"CreateUser","errorCode":"AccessDenied",
			"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAALICE"},
			"requestParameters":{"userName":"x"}}`,
			[]string{"user:111122223333:alice", "key:AKIAALICE"}, nil},
		{"AWS services are no actors", recordHead + `"eventSource":"iam.amazonaws.com","eventName":"CreateRole",
			"userIdentity":{"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"},"requestParameters":{"roleName":"x"}}`,
			nil, nil},
		{"odd parameters create nothing", recordHead + `"eventSource":"iam.amazonaws.com","eventName":"CreateUser",
			"userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},
			"requestParameters":{"userName":["x"]}}`,
			[]string{"user:111122223333:alice"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := parse(t, c.js)
			if got := story.Actors(r); !slices.Equal(got, c.actors) {
				t.Errorf("Actors = %v, want %v", got, c.actors)
			}
			if got := story.Created(r); !slices.Equal(got, c.created) {
				t.Errorf("Created = %v, want %v", got, c.created)
			}
		})
	}
}
