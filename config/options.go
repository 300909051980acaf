package config

import (
	"errors"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
)

// Detectors maps detector ids to their settings.
type Detectors map[string]Detector

// decodeNode implements nodeDecoder, naming each detector's keys
// detectors.<id>.<key>.
func (ds *Detectors) decodeNode(d *decoder, n *yaml.Node, key string) bool {
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, key, "want a mapping of detector ids to their settings, not %s", kind(n))
		return false
	}
	*ds = Detectors{}
	ok := true
	for k, v := range d.pairs(n, key) {
		var dc Detector
		ok = dc.decodeNode(d, v, join(key, k.Value)) && ok
		(*ds)[k.Value] = dc
	}
	return ok
}

// Detector is the settings of one detector: enabled, severity, and the
// detector's own options (everything else under its id), which the detector
// decodes and validates when it is built.
type Detector struct {
	// Enabled switches the detector; absent means enabled.
	Enabled *bool
	// Severity replaces the detector's default severity on every finding.
	Severity *detectors.Severity
	options  *yaml.Node // mapping of the remaining keys; nil when none
}

// decodeNode implements nodeDecoder: it reads enabled and severity and
// keeps every other key for the detector.
func (dc *Detector) decodeNode(d *decoder, n *yaml.Node, key string) bool {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n.Line, key, "want a mapping (enabled, severity and the detector's options), not %s", kind(n))
		return false
	}
	ok := true
	for k, v := range d.pairs(n, key) {
		switch k.Value {
		case "enabled":
			ok = d.decode(v, reflect.ValueOf(&dc.Enabled).Elem(), join(key, k.Value)) && ok
		case "severity":
			ok = d.decode(v, reflect.ValueOf(&dc.Severity).Elem(), join(key, k.Value)) && ok
		default:
			if dc.options == nil {
				dc.options = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: n.Line, Column: n.Column}
			}
			dc.options.Content = append(dc.options.Content, k, v)
		}
	}
	return ok
}

// optionsDecoder hands a detector the keys under detectors.<id> other than
// enabled and severity. It is strict like the rest of the file: keys must be
// fields of the detector's options struct, and keys no detector read are
// reported by unread.
type optionsDecoder struct {
	key  string // detectors.<id>
	node *yaml.Node
	read bool
}

func newOptionsDecoder(id string, dc Detector) *optionsDecoder {
	return &optionsDecoder{key: join("detectors", id), node: dc.options}
}

// decode implements detectors.Decoder.
func (o *optionsDecoder) decode(v any) error {
	o.read = true
	if o.node == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		panic("config: a detector's options must be decoded into a pointer to a struct")
	}
	d := newDecoder()
	names, _ := fields(rv.Elem().Type())
	known := append([]string{"enabled", "severity"}, names...)
	for i := 0; i+1 < len(o.node.Content); i += 2 {
		if k := o.node.Content[i]; !slices.Contains(known, k.Value) {
			d.fail(k.Line, join(o.key, k.Value), "unknown option (known: %s)", strings.Join(known, ", "))
		}
	}
	if len(d.errs) == 0 {
		d.decode(o.node, rv.Elem(), o.key)
	}
	return errors.Join(d.errs...)
}

// unread reports options given to a detector that takes none.
func (o *optionsDecoder) unread() error {
	if o.read || o.node == nil {
		return nil
	}
	id := strings.TrimPrefix(o.key, "detectors.")
	var errs []error
	for i := 0; i+1 < len(o.node.Content); i += 2 {
		k := o.node.Content[i]
		errs = append(errs, &Error{Key: join(o.key, k.Value), Line: k.Line,
			Err: errors.New("unknown option (" + id + " takes only enabled and severity)")})
	}
	return errors.Join(errs...)
}
