package builtin_test

import (
	"bytes"
	"errors"
	"io"

	"go.yaml.in/yaml/v3"

	"github.com/iamsentry/iamsentry/detectors"
)

// yamlConfig is a Config whose options decode from the YAML text doc, as
// they would from detectors.<id> of a configuration file (strictly: an
// unknown key is an error).
func det3Config(s *detectors.Settings, doc string) detectors.Config {
	if s == nil {
		s = &detectors.Settings{}
	}
	return detectors.Config{Settings: s, Options: func(v any) error {
		dec := yaml.NewDecoder(bytes.NewReader([]byte(doc)))
		dec.KnownFields(true)
		if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return nil
	}}
}
