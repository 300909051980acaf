package builtin

import (
	"encoding/json"
	"strings"

	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// How logging-tampering judges UpdateTrail: against the trail's previous
// configuration, which it remembers from the responses of CreateTrail and
// UpdateTrail (CloudTrail records the whole resulting trail there). The
// console and infrastructure-as-code send every setting on every update,
// so "isMultiRegionTrail": false or an empty log group in a request means
// a change only when the trail had it on before.

// trailConfig is what the detector remembers of a trail.
type trailConfig struct {
	Bucket      *string `json:"s3BucketName,omitempty"`
	MultiRegion *bool   `json:"isMultiRegionTrail,omitempty"`
	Validation  *bool   `json:"logFileValidationEnabled,omitempty"`
	Global      *bool   `json:"includeGlobalServiceEvents,omitempty"`
	Org         *bool   `json:"isOrganizationTrail,omitempty"`
	LogGroup    *string `json:"cloudWatchLogsLogGroupArn,omitempty"`
	KMS         *string `json:"kmsKeyId,omitempty"`
}

// trailUpdate is the request of UpdateTrail (validation has its own name).
type trailUpdate struct {
	Name        string  `json:"name"`
	Bucket      *string `json:"s3BucketName"`
	MultiRegion *bool   `json:"isMultiRegionTrail"`
	Validation  *bool   `json:"enableLogFileValidation"`
	Global      *bool   `json:"includeGlobalServiceEvents"`
	Org         *bool   `json:"isOrganizationTrail"`
	LogGroup    *string `json:"cloudWatchLogsLogGroupArn"`
	KMS         *string `json:"kmsKeyId"`
}

// trailKey is where a trail's configuration is kept: per account and trail
// name (a request may name the trail by its ARN).
func trailKey(ev *detectors.Event, name string) state.Key {
	if _, after, ok := strings.Cut(name, ":trail/"); ok {
		name = after
	}
	return ev.Key("trail:"+ev.Record.AccountID()+":"+name, "config")
}

// observeTrailConfig queues, for a successful CreateTrail or UpdateTrail,
// the read of the trail's previous configuration (UpdateTrail) and the
// write of the new one, when the response carries it.
func (d *LoggingTampering) observeTrailConfig(ev *detectors.Event, b *state.Batch) (prior *state.Future[[]byte]) {
	r := ev.Record
	var req trailUpdate
	var resp trailConfig
	_ = r.Params(&req)
	if err := r.Response(&resp); err != nil || req.Name == "" {
		return nil
	}
	key := trailKey(ev, req.Name)
	if r.EventName == "UpdateTrail" {
		prior = b.Get(key)
	}
	if resp != (trailConfig{}) {
		if v, err := json.Marshal(resp); err == nil {
			b.Put(key, v, d.opts.AdminHistory)
		}
	}
	return prior
}

// observeUpdateTrail judges a successful UpdateTrail once the trail's
// previous configuration is read. It teaches nothing about who administers
// logging: an update that weakens must not make its caller known.
func (d *LoggingTampering) observeUpdateTrail(ev *detectors.Event, b *state.Batch, principal string, prior *state.Future[[]byte]) detectors.Evaluation {
	r := ev.Record
	ta := &tampering{d: d, ev: ev, r: r, principal: principal}
	if !loggingHuman(r) {
		ta.known = b.ReadMark(ev.Key("principal:"+principal, "logging-admin:first"))
	}
	return detectors.EvaluationFunc(func() ([]detectors.Finding, error) {
		var cfg *trailConfig
		if prior != nil {
			v, err := prior.Get()
			if err != nil {
				return nil, err
			}
			if v != nil {
				cfg = new(trailConfig)
				if json.Unmarshal(v, cfg) != nil {
					cfg = nil
				}
			}
		}
		ta.t = judgeTrailUpdate(r, cfg)
		if ta.t.kind <= tamperAdmin {
			return nil, nil
		}
		return ta.findings()
	})
}

// judgeUpdateTrailAlone judges an UpdateTrail without the trail's history
// (a denied attempt, or a trail never seen created or updated).
func judgeUpdateTrailAlone(_ *LoggingTampering, r *cloudtrail.Record) tamper {
	return judgeTrailUpdate(r, nil)
}

// judgeTrailUpdate compares an UpdateTrail request with the trail's prior
// configuration. Without one, turning multi-region, global events, log
// file validation or the organization trail off is still weakening (the
// settings every benchmark asks for are on in a trail worth having), but a
// bucket, log group or key in the request may be the one the trail already
// had: those are only minor.
func judgeTrailUpdate(r *cloudtrail.Record, prior *trailConfig) tamper {
	var p trailUpdate
	if err := r.Params(&p); err != nil {
		return tamper{kind: tamperWeaken, what: "trail changed (parameters unreadable: " + err.Error() + ")"}
	}
	if prior == nil {
		prior = &trailConfig{}
	} else {
		// A remembered trail without a log group, key or bucket had none.
		for _, f := range []**string{&prior.Bucket, &prior.LogGroup, &prior.KMS} {
			if *f == nil {
				*f = new(string)
			}
		}
	}
	var weak, minor []string
	off := func(req, was *bool, what string) {
		if req != nil && !*req && (was == nil || *was) {
			weak = append(weak, what)
		}
	}
	off(p.MultiRegion, prior.MultiRegion, "multi-region logging off")
	off(p.Global, prior.Global, "global service events (IAM, STS) off")
	off(p.Validation, prior.Validation, "log file validation off")
	off(p.Org, prior.Org, "organization trail off")
	changed := func(req, was *string, removed bool, known, unknown string) {
		switch {
		case req == nil || (*req == "") != removed:
		case was == nil:
			minor = append(minor, unknown)
		case *was != *req:
			weak = append(weak, known)
		}
	}
	if p.Bucket != nil {
		changed(p.Bucket, prior.Bucket, false, "delivery moved from bucket "+deref(prior.Bucket)+" to "+*p.Bucket,
			"delivery bucket set to "+*p.Bucket+" (previous bucket unknown)")
	}
	changed(p.LogGroup, prior.LogGroup, true, "CloudWatch Logs delivery removed", "no CloudWatch Logs delivery (previous setting unknown)")
	changed(p.KMS, prior.KMS, true, "log encryption removed", "no log encryption (previous setting unknown)")
	switch {
	case len(weak) > 0:
		return tamper{kind: tamperWeaken, what: "trail weakened: " + strings.Join(append(weak, minor...), ", "), target: p.Name}
	case len(minor) > 0:
		return tamper{kind: tamperMinor, what: "trail changed: " + strings.Join(minor, ", "), target: p.Name}
	}
	return tamper{kind: tamperAdmin}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
