package policy

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// Trustees are whom a trust policy lets assume its role: the principals of
// its Allow statements that allow an assume action, and the values its
// positive conditions accept for the claims of federated identities (the
// "subjects": which GitHub repositories, which SAML audiences). A trust
// change is reported by what it adds to these, so the SOC sees the new
// principal or repository rather than the whole document.
//
// Entries are sorted and unique, at most MaxTrustees of each, each at most
// maxSubject bytes.
type Trustees struct {
	// Principals are written "<type>:<value>": "AWS:arn:aws:iam::…:root",
	// "Service:ec2.amazonaws.com", "Federated:arn:aws:iam::…:oidc-provider/…",
	// "*" for Principal "*", and "NotPrincipal:<value>" for everyone but a
	// listed principal.
	Principals []string
	// Subjects are written "<condition key>=<value>", key in lower case:
	// "token.actions.githubusercontent.com:sub=repo:acme/app:*".
	Subjects []string
	// Truncated is set when entries beyond MaxTrustees were dropped.
	Truncated bool
}

// MaxTrustees bounds each list of a Trustees, so that a trust policy kept
// in state stays small whatever its size.
const MaxTrustees = 32

// ReadTrust reads a role trust policy as CloudTrail records it (see Analyze
// for the forms accepted) and returns its trustees. An error wraps
// ErrMalformed.
func ReadTrust(raw []byte) (Trustees, error) {
	sts, _, err := decode(raw)
	if err != nil {
		return Trustees{}, err
	}
	var t Trustees
	for i := range sts {
		st := &sts[i]
		allow, err := st.validate()
		if err != nil {
			return Trustees{}, malformed("Statement %d: %v", i+1, err)
		}
		if allow && st.allowsAssume() {
			t.Principals = st.principals(t.Principals)
			if len(st.Principal.federated) > 0 {
				t.Subjects = st.subjects(t.Subjects)
			}
		}
	}
	t.Principals, t.Truncated = normalizeList(t.Principals, t.Truncated)
	t.Subjects, t.Truncated = normalizeList(t.Subjects, t.Truncated)
	return t, nil
}

func (st *statement) allowsAssume() bool {
	a := newActions(st)
	for _, act := range assumeActions {
		if _, ok := a.allows(act); ok {
			return true
		}
	}
	return false
}

func (st *statement) principals(out []string) []string {
	if st.NotPrincipal.set {
		np := &st.NotPrincipal
		for _, v := range np.aws {
			out = append(out, "NotPrincipal:AWS:"+v)
		}
		if len(np.aws)+len(np.service)+len(np.federated) == 0 || np.star {
			out = append(out, "NotPrincipal")
		}
		return out
	}
	p := &st.Principal
	if p.star {
		out = append(out, "*")
	}
	for _, v := range p.aws {
		out = append(out, "AWS:"+v)
	}
	for _, v := range p.service {
		out = append(out, "Service:"+strings.ToLower(v))
	}
	for _, v := range p.federated {
		out = append(out, "Federated:"+v)
	}
	return out
}

// subjects lists the values positive conditions accept, per key, for the
// statement's federated identities; global aws:* keys are not subjects.
func (st *statement) subjects(out []string) []string {
	for op, byKey := range st.Condition {
		if !positive(op) {
			continue
		}
		for k, vals := range byKey {
			k = strings.ToLower(k)
			if strings.HasPrefix(k, "aws:") || !strings.Contains(k, ":") {
				continue
			}
			for _, v := range vals {
				out = append(out, k+"="+v)
			}
		}
	}
	return out
}

func normalizeList(l []string, truncated bool) ([]string, bool) {
	for i, s := range l {
		l[i] = cut(s, maxSubject)
	}
	slices.Sort(l)
	l = slices.Compact(l)
	if len(l) > MaxTrustees {
		return l[:MaxTrustees:MaxTrustees], true
	}
	return l, truncated
}

// Added returns what t has that prev has not.
func (t Trustees) Added(prev Trustees) Trustees {
	minus := func(a, b []string) []string {
		var out []string
		for _, s := range a {
			if _, found := slices.BinarySearch(b, s); !found {
				out = append(out, s)
			}
		}
		return out
	}
	return Trustees{Principals: minus(t.Principals, prev.Principals), Subjects: minus(t.Subjects, prev.Subjects)}
}

// Empty reports whether t names nobody.
func (t Trustees) Empty() bool { return len(t.Principals) == 0 && len(t.Subjects) == 0 }

// Federated returns the identity providers t names (the values of its
// Federated principals), in order.
func (t Trustees) Federated() []string {
	var out []string
	for _, p := range t.Principals {
		if v, ok := strings.CutPrefix(p, "Federated:"); ok {
			out = append(out, v)
		}
	}
	return out
}

// MarshalBinary encodes t for state.
func (t Trustees) MarshalBinary() ([]byte, error) {
	return json.Marshal(trusteesWire{t.Principals, t.Subjects, t.Truncated})
}

// UnmarshalBinary decodes what MarshalBinary encoded, re-applying the
// bounds and order a Trustees keeps (state may hold anything).
func (t *Trustees) UnmarshalBinary(b []byte) error {
	var w trusteesWire
	if err := json.Unmarshal(b, &w); err != nil {
		return errors.New("policy: unreadable trustees")
	}
	t.Principals, t.Truncated = normalizeList(w.P, w.T)
	t.Subjects, t.Truncated = normalizeList(w.S, t.Truncated)
	return nil
}

type trusteesWire struct {
	P []string `json:"p,omitempty"`
	S []string `json:"s,omitempty"`
	T bool     `json:"t,omitempty"`
}
