package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error Analyze returns: the document could
// not be read as an IAM policy. The wrapping error says where and why.
var ErrMalformed = errors.New("malformed policy document")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
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
// encoding/json does for structs; unknown elements (Sid) are skipped. b
// must be valid JSON.
func (st *statement) UnmarshalJSON(b []byte) error {
	if firstByte(b) != '{' {
		return errors.New("a statement must be an object")
	}
	return members(b, func(k, v []byte) error {
		var err error
		switch {
		case keyIs(k, "Effect"):
			if err = unquote(v, &st.Effect); err != nil {
				err = errors.New("want a string")
			}
		case keyIs(k, "Action"):
			err = st.Action.UnmarshalJSON(v)
		case keyIs(k, "NotAction"):
			err = st.NotAction.UnmarshalJSON(v)
		case keyIs(k, "Resource"):
			err = st.Resource.UnmarshalJSON(v)
		case keyIs(k, "NotResource"):
			err = st.NotResource.UnmarshalJSON(v)
		case keyIs(k, "Principal"):
			err = st.Principal.UnmarshalJSON(v)
		case keyIs(k, "NotPrincipal"):
			err = st.NotPrincipal.UnmarshalJSON(v)
		case keyIs(k, "Condition"):
			if firstByte(v) == 'n' {
				return nil
			}
			if err = json.Unmarshal(v, &st.Condition); err != nil {
				err = fmt.Errorf("want operator → key → values: %s", jsonProblem(err))
			}
		}
		if err != nil {
			var name string
			_ = unquote(k, &name)
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	})
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
		if err := unquote(b, &s); err != nil {
			return err
		}
		l.vals, l.set = []string{s}, true
		return nil
	case '[':
		if vs, ok := fastStrings(b); ok {
			l.vals, l.set = vs, true
			return nil
		}
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
		p.set = true
		return members(b, func(k, v []byte) error {
			var l strList
			if err := l.UnmarshalJSON(v); err != nil {
				return errors.New(`want "*" or an object of string lists`)
			}
			switch {
			case keyIs(k, "AWS"):
				p.aws = append(p.aws, l.vals...)
			case keyIs(k, "Service"):
				p.service = append(p.service, l.vals...)
			case keyIs(k, "Federated"):
				p.federated = append(p.federated, l.vals...)
			}
			return nil
		})
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
		err := unquote(b, &s)
		return s, err
	case '{', '[':
		return "", errors.New("a condition value must be a string, number or boolean")
	}
	return string(bytes.TrimSpace(b)), nil
}

// unquote decodes the JSON string b into s. Policy text rarely holds
// escapes, so the common case is a copy, not a pass of encoding/json
// (which costs a scanner and a reflection walk per value).
func unquote(b []byte, s *string) error {
	b = bytes.TrimSpace(b)
	if v, ok := plainString(b); ok {
		*s = v
		return nil
	}
	return json.Unmarshal(b, s)
}

// plainString returns the JSON string b when it needs no decoding: quoted,
// no escape or control character inside, valid UTF-8.
func plainString(b []byte) (string, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	for _, c := range in {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// fastStrings reads a JSON list of plain strings (see plainString); ok is
// false for anything else, which the caller hands to encoding/json.
func fastStrings(b []byte) (vs []string, ok bool) {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return nil, false
	}
	rest := bytes.TrimSpace(b[1 : len(b)-1])
	vs = make([]string, 0, 1+bytes.Count(rest, []byte{','}))
	for len(rest) > 0 {
		if rest[0] != '"' {
			return nil, false
		}
		end := bytes.IndexByte(rest[1:], '"')
		if end < 0 {
			return nil, false
		}
		v, ok := plainString(rest[:end+2])
		if !ok {
			return nil, false
		}
		vs = append(vs, v)
		rest = bytes.TrimSpace(rest[end+2:])
		if len(rest) == 0 {
			break
		}
		if rest[0] != ',' {
			return nil, false
		}
		rest = bytes.TrimSpace(rest[1:])
		if len(rest) == 0 {
			return nil, false // trailing comma
		}
	}
	return vs, true
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// decode reads raw (see Analyze) into its statements; single reports
// whether Statement was one object rather than a list, for error messages.
func decode(raw []byte) (sts []statement, single bool, err error) {
	text, err := documentText(raw)
	if err != nil {
		return nil, false, err
	}
	if !json.Valid(text) {
		var v any
		return nil, false, malformed("%s", jsonProblem(json.Unmarshal(text, &v)))
	}
	if firstByte(text) != '{' {
		return nil, false, malformed("not a JSON object")
	}
	var stmts []byte
	_ = members(text, func(k, v []byte) error {
		if keyIs(k, "Statement") {
			stmts = v // the last wins, as with encoding/json
		}
		return nil
	})
	switch firstByte(stmts) {
	case 0, 'n':
		return nil, false, malformed("no Statement")
	case '{':
		var st statement
		if err := st.UnmarshalJSON(stmts); err != nil {
			return nil, true, malformed("Statement: %v", err)
		}
		return []statement{st}, true, nil
	case '[':
		err := elements(stmts, func(v []byte) error {
			sts = append(sts, statement{})
			if err := sts[len(sts)-1].UnmarshalJSON(v); err != nil {
				return malformed("Statement %d: %v", len(sts), err)
			}
			return nil
		})
		if err != nil {
			return nil, false, err
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
