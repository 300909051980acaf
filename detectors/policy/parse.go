package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrMalformed is wrapped by every error Analyze returns: the document could
// not be read as an IAM policy. The wrapping error says where and why.
var ErrMalformed = errors.New("malformed policy document")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// document is the part of a policy document the analyzer reads; Version,
// Id and Sid are not needed to know what a document grants.
type document struct {
	Statement json.RawMessage `json:"Statement"`
}

// statement is one policy statement. Absent elements stay unset, which is
// how "Action" is told from "NotAction".
type statement struct {
	Effect       string
	Action       strList
	NotAction    strList
	Resource     strList
	NotResource  strList
	Principal    principal
	NotPrincipal principal
	Condition    conditions
}

// UnmarshalJSON reads a statement element by element, so that an error
// names the element. Element names match case-insensitively, as
// encoding/json does for structs; unknown elements (Sid) are skipped.
func (st *statement) UnmarshalJSON(b []byte) error {
	if firstByte(b) != '{' {
		return errors.New("a statement must be an object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return errors.New(jsonProblem(err))
	}
	for k, v := range m {
		var err error
		switch strings.ToLower(k) {
		case "effect":
			if err = json.Unmarshal(v, &st.Effect); err != nil {
				err = errors.New("want a string")
			}
		case "action":
			err = st.Action.UnmarshalJSON(v)
		case "notaction":
			err = st.NotAction.UnmarshalJSON(v)
		case "resource":
			err = st.Resource.UnmarshalJSON(v)
		case "notresource":
			err = st.NotResource.UnmarshalJSON(v)
		case "principal":
			err = st.Principal.UnmarshalJSON(v)
		case "notprincipal":
			err = st.NotPrincipal.UnmarshalJSON(v)
		case "condition":
			if firstByte(v) == 'n' {
				continue
			}
			if err = json.Unmarshal(v, &st.Condition); err != nil {
				err = fmt.Errorf("want operator → key → values: %s", jsonProblem(err))
			}
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

// strList is an IAM element that is a string or a list of strings.
type strList struct {
	vals []string
	set  bool
}

func (l *strList) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case 'n': // null: as if absent
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		l.vals, l.set = []string{s}, true
		return nil
	case '[':
		var vs []string
		if err := json.Unmarshal(b, &vs); err != nil {
			return errors.New("want a string or a list of strings")
		}
		l.vals, l.set = vs, true
		return nil
	}
	return errors.New("want a string or a list of strings")
}

// principal is "*" or an object such as {"AWS": ..., "Service": ...,
// "Federated": ...}. Any other principal type (CanonicalUser) is kept under
// its own name and ignored by the analyzer.
type principal struct {
	star      bool
	aws       []string
	service   []string
	federated []string
	set       bool
}

func (p *principal) UnmarshalJSON(b []byte) error {
	switch firstByte(b) {
	case 'n':
		return nil
	case '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		p.set = true
		if s == "*" {
			p.star = true
		} else {
			p.aws = []string{s} // IAM accepts only "*" here; read anything else as an AWS principal
		}
		return nil
	case '{':
		var m map[string]strList
		if err := json.Unmarshal(b, &m); err != nil {
			return errors.New(`want "*" or an object of string lists`)
		}
		p.set = true
		for k, v := range m {
			switch {
			case strings.EqualFold(k, "AWS"):
				p.aws = append(p.aws, v.vals...)
			case strings.EqualFold(k, "Service"):
				p.service = append(p.service, v.vals...)
			case strings.EqualFold(k, "Federated"):
				p.federated = append(p.federated, v.vals...)
			}
		}
		return nil
	}
	return errors.New(`want "*" or an object`)
}

// conditions is a Condition block: operator → key → values. Values may be
// strings, numbers or booleans, alone or in a list; the analyzer keeps them
// as text.
type conditions map[string]map[string]valList

// valList is a condition value: a scalar or a list of scalars.
type valList []string

func (l *valList) UnmarshalJSON(b []byte) error {
	if firstByte(b) != '[' {
		s, err := scalar(b)
		if err != nil {
			return err
		}
		*l = valList{s}
		return nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(b, &raws); err != nil {
		return err
	}
	out := make(valList, 0, len(raws))
	for _, r := range raws {
		s, err := scalar(r)
		if err != nil {
			return err
		}
		out = append(out, s)
	}
	*l = out
	return nil
}

func scalar(b []byte) (string, error) {
	switch firstByte(b) {
	case '"':
		var s string
		err := json.Unmarshal(b, &s)
		return s, err
	case '{', '[':
		return "", errors.New("a condition value must be a string, number or boolean")
	}
	return string(bytes.TrimSpace(b)), nil
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// decode reads raw (see Analyze) into its statements;
// single reports whether Statement was one object rather than a list, for
// error messages.
func decode(raw []byte) (sts []statement, single bool, err error) {
	text, err := documentText(raw)
	if err != nil {
		return nil, false, err
	}
	var doc document
	if err := json.Unmarshal(text, &doc); err != nil {
		return nil, false, malformed("%s", jsonProblem(err))
	}
	switch firstByte(doc.Statement) {
	case 0, 'n':
		return nil, false, malformed("no Statement")
	case '{':
		var st statement
		if err := st.UnmarshalJSON(doc.Statement); err != nil {
			return nil, true, malformed("Statement: %v", err)
		}
		return []statement{st}, true, nil
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(doc.Statement, &raws); err != nil {
			return nil, false, malformed("Statement: %s", jsonProblem(err))
		}
		sts := make([]statement, len(raws))
		for i, r := range raws {
			if err := sts[i].UnmarshalJSON(r); err != nil {
				return nil, false, malformed("Statement %d: %v", i+1, err)
			}
		}
		return sts, false, nil
	}
	return nil, false, malformed("Statement is neither an object nor a list")
}

// documentText returns the document's JSON text: raw itself when it is an
// object, else the string raw holds, URL-decoded when it is URL-encoded
// (as CloudTrail records some IAM calls).
func documentText(raw []byte) ([]byte, error) {
	switch firstByte(raw) {
	case '{':
		return raw, nil
	case '"':
	case 0, 'n':
		return nil, malformed("empty")
	default:
		return nil, malformed("neither a JSON string nor an object")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, malformed("%s", jsonProblem(err))
	}
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") && strings.Contains(s, "%") {
		u, err := url.QueryUnescape(s)
		if err != nil {
			return nil, malformed("bad URL encoding: %v", err)
		}
		s = strings.TrimSpace(u)
	}
	if !strings.HasPrefix(s, "{") {
		if s == "" {
			return nil, malformed("empty")
		}
		return nil, malformed("does not start with '{'")
	}
	return []byte(s), nil
}

// jsonProblem renders a decoding error without Go type names.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("invalid JSON at byte %d: %v", se.Offset, se)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field != "" {
			return fmt.Sprintf("%s: want %s, got JSON %s", te.Field, te.Type, te.Value)
		}
		return fmt.Sprintf("want %s, got JSON %s", te.Type, te.Value)
	}
	return err.Error()
}
