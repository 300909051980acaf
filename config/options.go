package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// optionsDecoder hands a detector the keys under detectors.<id> other than
// enabled and severity. It is strict like the rest of the file: keys must be
// fields of the detector's options struct, and keys no detector read are
// reported by unread.
type optionsDecoder struct {
	id   string
	node *yaml.Node
	read bool
}

func (d *optionsDecoder) decode(v any) error {
	d.read = true
	if d.node == nil {
		return nil
	}
	known := yamlKeys(v)
	var errs []error
	for i := 0; i+1 < len(d.node.Content); i += 2 {
		k := d.node.Content[i]
		if !slices.Contains(known, k.Value) {
			errs = append(errs, fmt.Errorf("line %d: detectors.%s.%s: unknown option (known: %s)",
				k.Line, d.id, k.Value, strings.Join(append([]string{"enabled", "severity"}, known...), ", ")))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := d.node.Decode(v); err != nil {
		var out []error
		for _, e := range unjoin(yamlErrors(err)) {
			out = append(out, fmt.Errorf("%w (in detectors.%s)", e, d.id))
		}
		return errors.Join(out...)
	}
	return nil
}

// unread reports options given to a detector that takes none.
func (d *optionsDecoder) unread() error {
	if d.read || d.node == nil {
		return nil
	}
	var errs []error
	for i := 0; i+1 < len(d.node.Content); i += 2 {
		k := d.node.Content[i]
		errs = append(errs, fmt.Errorf("line %d: detectors.%s.%s: unknown option (%s takes only enabled and severity)", k.Line, d.id, k.Value, d.id))
	}
	return errors.Join(errs...)
}

// yamlKeys lists the keys a struct decodes, from its yaml tags (or
// lower-cased field names, as the yaml package does).
func yamlKeys(v any) []string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		keys = append(keys, name)
	}
	return keys
}
