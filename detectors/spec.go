package detectors

import "fmt"

// Spec is a detector before configuration: its id, how to build it from a
// Config, and its options' defaults. Package detectors/builtin lists the
// ones iamsentry ships; the process builds the registry it runs from them.
type Spec struct {
	ID  string
	New func(Config) (Detector, error)
	// Defaults returns the detector's options with their default values:
	// the struct New decodes detectors.<id> into (fields tagged yaml). Nil
	// when the detector takes no options. The detector reference
	// (docs/detectors.md) is checked against it.
	Defaults func() any
}

// Config is what a detector is built from.
type Config struct {
	// Settings are the organisation-wide settings; nil means none were
	// given (read them with OrgSettings).
	Settings *Settings
	// Options decodes the detector's own keys (everything under
	// detectors.<id> except enabled and severity) into a struct whose
	// fields carry yaml tags. It leaves fields that are not set untouched,
	// so a detector fills its defaults first, decodes, then validates. Nil
	// means nothing was set.
	Options Decoder
}

// OrgSettings returns the organisation-wide settings, empty ones when none
// were given (a detector built from a zero Config, as tests do).
func (c Config) OrgSettings() *Settings {
	if c.Settings == nil {
		return &Settings{}
	}
	return c.Settings
}

// Decoder decodes configuration into v, a pointer to a struct. An unknown
// key or a value of the wrong type is an error naming the key.
type Decoder func(v any) error

// Decode decodes the detector's options into v (see Config.Options).
func (c Config) Decode(v any) error {
	if c.Options == nil {
		return nil
	}
	return c.Options(v)
}

// DefaultConfig is the configuration of a process without a config file.
func DefaultConfig() Config { return Config{Settings: &Settings{}} }

// OptionError is a bad detector option: the key (as written under
// detectors.<id>) and why.
type OptionError struct {
	Key    string
	Reason string
}

func (e *OptionError) Error() string { return fmt.Sprintf("%s: %s", e.Key, e.Reason) }

// Notable is implemented by detectors whose configuration changes how they
// work in a way an operator must hear about at start, e.g. a detector that
// stays silent because a setting it needs is absent, or one that falls back
// to a weaker method. serve logs every note when it starts or reloads.
type Notable interface {
	Notes() []string
}

// BuildAll builds every spec with DefaultConfig. It is for tests and tools
// that need the built-in detectors without a configuration file; it panics
// if a built-in detector rejects its own defaults, which is a bug.
func BuildAll(specs []Spec) []Detector {
	ds := make([]Detector, 0, len(specs))
	for _, s := range specs {
		d, err := s.New(DefaultConfig())
		if err != nil {
			panic(fmt.Sprintf("detector %s rejects its defaults: %v", s.ID, err))
		}
		ds = append(ds, d)
	}
	return ds
}
