package policy

import "strings"

// Delta is what one summary grants that another does not.
type Delta struct {
	// Added are grants of next that prev lacks.
	Added []Grant
	// Unconditioned are grants prev had only under a Condition and next
	// has without one.
	Unconditioned []Grant
}

// Diff returns what next grants that prev did not. A grant prev has
// unconditionally covers the same grant in next, conditional or not.
func Diff(prev, next Summary) Delta {
	var d Delta
	for _, g := range next.Grants {
		p, ok := prev.Find(g.Kind, g.Subject)
		switch {
		case !ok:
			d.Added = append(d.Added, g)
		case p.Conditional && !g.Conditional:
			d.Unconditioned = append(d.Unconditioned, g)
		}
	}
	return d
}

// Broader reports whether next grants anything prev did not.
func (d Delta) Broader() bool { return len(d.Added) > 0 || len(d.Unconditioned) > 0 }

// Grants returns the added and unconditioned grants, in that order.
func (d Delta) Grants() []Grant {
	return append(append([]Grant(nil), d.Added...), d.Unconditioned...)
}

// String says what the delta adds, in words: "adds Action * on Resource *;
// drops the Condition on iam:PassRole on any role". It is "" when nothing
// was added.
func (d Delta) String() string {
	var b strings.Builder
	for _, g := range d.Added {
		sep(&b)
		b.WriteString("adds ")
		b.WriteString(g.String())
	}
	for _, g := range d.Unconditioned {
		sep(&b)
		b.WriteString("drops the Condition on ")
		b.WriteString(g.String())
	}
	return b.String()
}

func sep(b *strings.Builder) {
	if b.Len() > 0 {
		b.WriteString("; ")
	}
}

// String says what the grant allows, in words, with the policy text that
// grants it and, when conditional, the condition keys.
func (g Grant) String() string {
	var s string
	switch g.Kind {
	case KindAdmin:
		s = "Action * on Resource *"
		if strings.HasPrefix(g.Via, "NotAction ") {
			s = "every action that matters, on Resource *"
		}
	case KindPassRole:
		s = "iam:PassRole on any role"
	case KindNotAction:
		s = "every action but a few on Resource *"
	case KindServiceWide:
		s = g.Subject + ":* on Resource *"
	case KindAssumeAnyone:
		s = "sts:AssumeRole by any AWS principal"
	case KindAssumeAccount:
		s = "sts:AssumeRole by account " + g.Subject
	case KindAssumeOpenFederated:
		s = "web-identity federation from " + g.Subject + " without a condition naming which identities"
	case KindAssumeFederated:
		s = "federation from " + g.Subject
	case KindAssumeService:
		s = "sts:AssumeRole by service " + g.Subject
	case KindEscalation:
		s = "privilege escalation by " + g.Subject
	case KindPassRoleTo:
		s = "iam:PassRole on " + g.Subject
	default:
		s = g.Kind.String()
	}
	if g.Via != "" && !(g.Kind == KindAdmin && g.Via == "* on *") {
		s += " (" + g.Via + ")"
	}
	if g.Conditional {
		s += ", only under a Condition on " + g.Conditions
	}
	return s
}
