package builtin

import (
	"fmt"
	"strings"

	"github.com/iamsentry/iamsentry/detectors"
	"github.com/iamsentry/iamsentry/state"
)

// A pipeline (GitHub Actions, GitLab CI, any OIDC issuer but EKS's) signs
// in with AssumeRoleWithWebIdentity from its runners and uses the session
// from the same runners, seconds later. Its runners need not be on AWS
// (GitHub's hosted runners are on Azure), so "not AWS" says nothing; what
// the runners' sign-ins came from does. A session of the role used from a
// network none of the pipeline's sign-ins came from is a token lifted off
// a runner (a poisoned pull request printing the environment, a leaked
// log) and replayed from the thief's machine.

// pipelineRole returns the role ARN of a pipeline's sign-in and who signed
// in (the token's subject), or "".
func pipelineRole(ev *detectors.Event) (role, provider string) {
	r := ev.Record
	u := &r.UserIdentity
	if r.EventName != "AssumeRoleWithWebIdentity" || r.Failed() || strings.Contains(u.PrincipalID+u.UserName, "oidc.eks.") {
		return "", ""
	}
	arn, err := roleARNParam(ev)
	if err != nil || detectors.RoleNameFromARN(arn) == "" {
		return "", ""
	}
	provider = "an OIDC provider"
	if u.UserName != "" {
		provider = "subject " + u.UserName
	}
	return arn, provider
}

// learnPipeline keeps, for LearnFor, that role is a pipeline's and the
// network its sign-in came from ("trusted" for trusted_networks and the
// organisation's own VPC endpoints, whose sessions are never judged).
func (d *WorkloadCredentials) learnPipeline(ev *detectors.Event, b *state.Batch, role, provider string) {
	s := d.sight(ev)
	member := s.member
	if s.skip {
		member = "trusted"
	}
	b.Put(roleKey(ev, role, "wl:pipeline"), []byte(provider), d.opts.LearnFor)
	if member != "" {
		b.Put(roleKey(ev, role, "wl:pipeline-net:"+member), []byte{1}, d.opts.LearnFor)
	}
}

// queuePipeline reads, for a session of role used away from AWS by no
// known workload, whether the role is a pipeline's and whether its
// sign-ins came from this network.
func (u *use) queuePipeline(ev *detectors.Event, b *state.Batch, role string) {
	u.pipeline = detectors.Get(b, roleKey(ev, role, "wl:pipeline"))
	u.pipelineNet = detectors.Get(b, roleKey(ev, role, "wl:pipeline-net:"+u.s.member))
}

// offPipeline returns the severity and reason when the session is a
// pipeline's, used from a network none of its sign-ins came from.
func (u *use) offPipeline() (detectors.Severity, string, error) {
	if u.pipeline == nil {
		return detectors.SeverityUnknown, "", nil
	}
	provider, err := u.pipeline.Get()
	if err != nil || len(provider) == 0 {
		return detectors.SeverityUnknown, "", err
	}
	known, err := u.pipelineNet.Get()
	if err != nil || len(known) > 0 {
		return detectors.SeverityUnknown, "", err
	}
	sev := detectors.SeverityHigh
	if u.s.outside || strings.HasPrefix(u.s.member, "net:") {
		sev = u.d.opts.FallbackSeverity
	}
	return sev, fmt.Sprintf("a pipeline's session (its role signs in by web identity, %s) used from %s, a network none of "+
		"the pipeline's sign-ins came from in the last %s: a token replayed off its runners", provider, u.s.label, detectors.Days(u.d.opts.LearnFor)), nil
}
