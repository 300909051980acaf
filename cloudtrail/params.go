package cloudtrail

import (
	"encoding"
	"encoding/json"
	"reflect"
	"sync"
)

// Params, Response and Additional decode into small structs of strings
// (a role ARN and a session name, a response's assumedRoleUser.arn),
// which encoding/json does through its general reflection path: 2.7 % of
// a realistic scan's CPU, with allocations on every call. decodeFlat
// decodes such a struct straight from the bytes with the Reader's
// scanner, and leaves everything else to encoding/json.

// decodeRaw decodes raw JSON into v as json.Unmarshal does.
func decodeRaw(raw json.RawMessage, v any) error {
	if len(raw) == 0 {
		return nil
	}
	if decodeFlat(raw, v) {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// flatPlan is how decodeFlat fills one struct type: its fields' JSON
// names, in field order, and for each either a string (sub nil) or a
// struct of the same kind (sub its plan).
type flatPlan struct {
	names []string
	index []int
	sub   []*flatPlan
}

// flatPlans caches the plan of each struct type asked for; a nil plan
// means the type is not one decodeFlat handles.
var flatPlans sync.Map // reflect.Type -> *flatPlan

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// planFor returns t's plan, or nil when t is not a struct whose every
// exported field is a string or such a struct, with plain names and no
// custom decoding, where encoding/json's rules come down to decodeFlat's.
func planFor(t reflect.Type) *flatPlan {
	if p, ok := flatPlans.Load(t); ok {
		return p.(*flatPlan)
	}
	p := makePlan(t, 0)
	flatPlans.Store(t, p)
	return p
}

// maxPlanDepth bounds the nesting of the structs a plan follows.
const maxPlanDepth = 4

func makePlan(t reflect.Type, depth int) *flatPlan {
	if t.Kind() != reflect.Struct || depth > maxPlanDepth || customDecoding(t) {
		return nil
	}
	p := &flatPlan{}
	seen := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous {
			return nil // embedding promotes fields by rules decodeFlat does not follow
		}
		if !f.IsExported() {
			continue
		}
		name, ok := plainTagName(f)
		if !ok {
			return nil
		}
		if name == "-" {
			continue
		}
		if seen[name] {
			return nil // encoding/json drops both
		}
		seen[name] = true
		var sub *flatPlan
		switch {
		case f.Type.Kind() == reflect.String && !customDecoding(f.Type):
		case f.Type.Kind() == reflect.Struct:
			if sub = makePlan(f.Type, depth+1); sub == nil {
				return nil
			}
		default:
			return nil
		}
		p.names, p.index, p.sub = append(p.names, name), append(p.index, i), append(p.sub, sub)
	}
	return p
}

// customDecoding reports whether encoding/json would decode t through an
// UnmarshalJSON or UnmarshalText method.
func customDecoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonUnmarshalerType) || pt.Implements(jsonUnmarshalerType) ||
		t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType)
}

// plainTagName returns the JSON name of f ("-" for a field encoding/json
// skips) when the tag sets only a name of ASCII letters, digits and '_'
// (or none, and the field's own name is ASCII) and no option but
// omitempty/omitzero.
func plainTagName(f reflect.StructField) (string, bool) {
	tag, hasTag := f.Tag.Lookup("json")
	if tag == "-" {
		return "-", true
	}
	name, opts := tag, ""
	for i := 0; i < len(tag); i++ {
		if tag[i] == ',' {
			name, opts = tag[:i], tag[i+1:]
			break
		}
	}
	for opts != "" {
		opt := opts
		for i := 0; i < len(opts); i++ {
			if opts[i] == ',' {
				opt = opts[:i]
				break
			}
		}
		if opt != "omitempty" && opt != "omitzero" {
			return "", false
		}
		opts = opts[min(len(opt)+1, len(opts)):]
	}
	if !hasTag || name == "" {
		name = f.Name
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c == '_' || isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z') {
			return "", false
		}
	}
	return name, true
}

// field returns the index in p of the field a key names, as encoding/json
// matches keys: the field named exactly so, else the first whose name
// equals it but for ASCII case; -1 when none.
func (p *flatPlan) field(key []byte) int {
	for i, n := range p.names {
		if string(key) == n {
			return i
		}
	}
	for i, n := range p.names {
		if equalFoldASCII(key, n) {
			return i
		}
	}
	return -1
}

// decodeFlat decodes raw into v when v points to a struct planFor
// accepts and raw is valid JSON that decodes into it without escapes,
// text other than ASCII in keys and values, or values of other types,
// and reports whether it did. When it reports false, v may hold some of
// raw's values, all of which json.Unmarshal of the same raw sets again
// the same way: raw is valid, so encoding/json writes every field
// decodeFlat wrote, in the same order, and later.
func decodeFlat(raw []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return false
	}
	p := planFor(rv.Elem().Type())
	if p == nil {
		return false
	}
	i := skipSpace(raw, 0)
	if i == len(raw) {
		return false
	}
	if end, res := scanValue(raw, i, true); res != scanOK || skipSpace(raw, end) != len(raw) {
		return false // encoding/json words the syntax error
	}
	switch raw[i] {
	case 'n':
		return true // null leaves v as it was
	case '{':
		_, ok := decodeFlatObject(raw, i, p, rv.Elem())
		return ok
	}
	return false
}

// decodeFlatObject decodes the valid object at raw[i] into sv by plan p
// and returns the index past it.
func decodeFlatObject(raw []byte, i int, p *flatPlan, sv reflect.Value) (int, bool) {
	i = skipSpace(raw, i+1)
	if raw[i] == '}' {
		return i + 1, true
	}
	for {
		end, ascii, _ := scanQuoted(raw, i)
		if !ascii {
			return 0, false
		}
		key := raw[i+1 : end-1]
		i = skipSpace(raw, skipSpace(raw, end)+1) // past the colon
		f := p.field(key)
		var ok bool
		switch {
		case f < 0:
			i, _ = scanValue(raw, i, true)
			ok = true
		case raw[i] == 'n':
			i, ok = i+len("null"), true // null leaves the field as it was
		case p.sub[f] == nil && raw[i] == '"':
			end, ascii, _ := scanQuoted(raw, i)
			if ok = ascii; ok {
				sv.Field(p.index[f]).SetString(string(raw[i+1 : end-1]))
				i = end
			}
		case p.sub[f] != nil && raw[i] == '{':
			i, ok = decodeFlatObject(raw, i, p.sub[f], sv.Field(p.index[f]))
		}
		if !ok {
			return 0, false
		}
		i = skipSpace(raw, i)
		if raw[i] == '}' {
			return i + 1, true
		}
		i = skipSpace(raw, i+1) // past the comma
	}
}
