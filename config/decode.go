package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
)

// Error is one problem in a configuration file: the key it is at, the line
// of that key, and what is wrong. Parse, Build and At report every problem
// of a file as an *Error (several of them joined).
type Error struct {
	// Key is the key path as a person writes it, e.g. "sinks[1].url"; ""
	// when the problem is with the file as a whole.
	Key string
	// Line is the line of the key in the file (1-based). A key that is
	// absent (a required one) is reported at the line of the nearest key
	// around it; 0 means the file does not hold the key at all.
	Line int
	// Err says what is wrong, without the key.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// lines maps key paths to the line they are on in the file.
type lines map[string]int

// at returns the line of key, or of the nearest enclosing key the file
// holds: "suppress[0].reason", when absent, is reported at suppress[0].
func (l lines) at(key string) int {
	for {
		if n, ok := l[key]; ok {
			return n
		}
		i := strings.LastIndexAny(key, ".[")
		if i <= 0 {
			return l[""]
		}
		key = key[:i]
	}
}

// decoder decodes a YAML node tree into Go values the way the
// configuration file is read: every key must be known and every value of
// the kind its key wants. It goes on past problems, collecting one *Error
// for each in the file's words (key paths, never Go type names), and
// records the line of every key it meets.
type decoder struct {
	lines lines
	errs  []error
	nodes int // values decoded so far, aliases expanded
}

// maxNodes bounds the values one file may expand to. Aliases are followed
// where they stand, so a few lines of nested anchors ("billion laughs")
// could otherwise make decoding take unbounded time and memory; a real
// configuration has a few hundred values.
const maxNodes = 100_000

func newDecoder() *decoder { return &decoder{lines: lines{}} }

// fail records a problem at key on line.
func (d *decoder) fail(line int, key, format string, args ...any) {
	d.errs = append(d.errs, &Error{Key: key, Line: line, Err: fmt.Errorf(format, args...)})
}

// nodeDecoder is implemented by types whose YAML form is not a plain
// struct, list or scalar (the detectors section).
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, key string) bool
}

// decode decodes n into v, which must be settable, and reports whether it
// did so without a problem. A null leaves v as it is.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) bool {
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n.Line, key, "the file expands to more than %d values (aliases included)", maxNodes)
		}
		return false
	}
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true
	}
	if nd, ok := v.Addr().Interface().(nodeDecoder); ok {
		return nd.decodeNode(d, n, key)
	}
	switch t := v.Type(); {
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if !d.decode(n, p.Elem(), key) {
			return false
		}
		v.Set(p)
		return true
	case isLeaf(t):
		return d.leaf(n, v, key)
	case t.Kind() == reflect.Struct:
		return d.structure(n, v, key)
	case t.Kind() == reflect.Slice:
		return d.list(n, v, key)
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		return d.mapping(n, v, key)
	}
	panic(fmt.Sprintf("config: cannot decode into %s (key %s)", v.Type(), key))
}

// isLeaf reports whether t is decoded from a single scalar.
func isLeaf(t reflect.Type) bool {
	if reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return true
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Slice, reflect.Map, reflect.Pointer:
		return false
	}
	return true
}

// leaf decodes a scalar as the yaml package does, rewording its errors.
func (d *decoder) leaf(n *yaml.Node, v reflect.Value, key string) bool {
	if n.Kind != yaml.ScalarNode {
		d.fail(n.Line, key, "want %s, not %s", want(v.Type()), kind(n))
		return false
	}
	p := reflect.New(v.Type())
	if err := n.Decode(p.Interface()); err != nil {
		d.fail(n.Line, key, "%q is not %s", n.Value, want(v.Type()))
		return false
	}
	v.Set(p.Elem())
	return true
}

// structure decodes a mapping into the fields of a struct, by their yaml
// names.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, key string) bool {
	names, index := fields(v.Type())
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, key, "want a mapping (keys: %s), not %s", strings.Join(names, ", "), kind(n))
		return false
	}
	ok := true
	for k, val := range d.pairs(n, key) {
		i, known := index[k.Value]
		if !known {
			d.fail(k.Line, join(key, k.Value), "unknown key (known: %s)", strings.Join(names, ", "))
			ok = false
			continue
		}
		ok = d.decode(val, v.Field(i), join(key, k.Value)) && ok
	}
	return ok
}

// mapping decodes a mapping into a map with string keys.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, key string) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, key, "want a mapping, not %s", kind(n))
		return false
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	ok := true
	for k, val := range d.pairs(n, key) {
		e := reflect.New(v.Type().Elem()).Elem()
		if d.decode(val, e, join(key, k.Value)) {
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		} else {
			ok = false
		}
	}
	return ok
}

// list decodes a sequence into a slice.
func (d *decoder) list(n *yaml.Node, v reflect.Value, key string) bool {
	if n.Kind != yaml.SequenceNode {
		d.fail(n.Line, key, "want a list, not %s", kind(n))
		return false
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	ok := true
	for i, item := range n.Content {
		at := fmt.Sprintf("%s[%d]", key, i)
		d.lines[at] = item.Line
		ok = d.decode(item, s.Index(i), at) && ok
	}
	v.Set(s)
	return ok
}

// pairs yields the key and value nodes of a mapping, those merged in
// through "<<" first, so that the mapping's own keys win. It records the
// line of each key and reports a key given twice.
func (d *decoder) pairs(n *yaml.Node, key string) func(yield func(k, v *yaml.Node) bool) {
	return func(yield func(k, v *yaml.Node) bool) {
		var own [][2]*yaml.Node
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Tag == "!!merge" {
				if !d.merged(v, key, yield) {
					return
				}
				continue
			}
			if first, dup := seen[k.Value]; dup {
				d.fail(k.Line, join(key, k.Value), "given twice (first on line %d)", first)
				continue
			}
			seen[k.Value] = k.Line
			own = append(own, [2]*yaml.Node{k, v})
		}
		for _, kv := range own {
			d.lines[join(key, kv[0].Value)] = kv[0].Line
			if !yield(kv[0], kv[1]) {
				return
			}
		}
	}
}

// merged yields the pairs a "<<" value brings: one mapping or a list of
// them.
func (d *decoder) merged(v *yaml.Node, key string, yield func(k, v *yaml.Node) bool) bool {
	v = resolve(v)
	switch v.Kind {
	case yaml.MappingNode:
		for k, val := range d.pairs(v, key) {
			if !yield(k, val) {
				return false
			}
		}
	case yaml.SequenceNode:
		for _, m := range v.Content {
			if !d.merged(m, key, yield) {
				return false
			}
		}
	default:
		d.fail(v.Line, join(key, "<<"), "want a mapping or a list of mappings to merge, not %s", kind(v))
	}
	return true
}

// resolve returns the node an alias stands for, placed where the alias is
// (so a problem is reported where the value is used), or n itself.
func resolve(n *yaml.Node) *yaml.Node {
	if n.Kind != yaml.AliasNode || n.Alias == nil {
		return n
	}
	a := *n.Alias
	a.Line, a.Column = n.Line, n.Column
	return &a
}

// fields lists the keys a struct decodes, in field order, and the index of
// each key's field. A key is the field's yaml tag or, without one, its
// lower-cased name, as the yaml package has it.
func fields(t reflect.Type) (names []string, index map[string]int) {
	index = map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case name == "":
			name = strings.ToLower(f.Name)
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

// join appends a key to a key path.
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// want says, for a person, what a value of type t looks like.
func want(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[detectors.Severity]():
		return "a severity (want INFO, LOW, MEDIUM, HIGH or CRITICAL)"
	case reflect.TypeFor[time.Duration]():
		return "a duration such as 90s, 10m or 24h"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "a single value"
}

// kind describes what a node holds, for "want X, not Y".
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.Value)
}
