package detectors

import (
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/iamsentry/iamsentry/state"
)

// Registry is the fixed set of detectors a process knows, in a stable order,
// and which of them are enabled. Registration is explicit: the caller builds
// the list (see Builtin); nothing registers itself from init.
//
// A Registry is immutable after NewRegistry and safe for concurrent use.
type Registry struct {
	all     []Detector
	enabled map[string]bool
	// on is Enabled's answer, worked out once: the engine asks for it on
	// every batch, and building it calls every detector's Info.
	on []Detector
	// observers is Observers' answer by call, worked out once.
	observers observers
}

var (
	idPattern        = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)
	techniquePattern = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
)

// ValidateInfo checks the rules every detector's Info must follow and
// reports every broken rule, joined.
func ValidateInfo(info Info) error {
	var errs []error
	if !idPattern.MatchString(info.ID) {
		errs = append(errs, fmt.Errorf("detector id %q is not kebab-case", info.ID))
	}
	if info.Title == "" {
		errs = append(errs, fmt.Errorf("detector %q has no title", info.ID))
	}
	if info.Severity < SeverityInfo || info.Severity > SeverityCritical {
		errs = append(errs, fmt.Errorf("detector %q has invalid default severity %v", info.ID, info.Severity))
	}
	if len(info.Techniques) == 0 {
		errs = append(errs, fmt.Errorf("detector %q lists no ATT&CK technique", info.ID))
	}
	for _, t := range info.Techniques {
		if !techniquePattern.MatchString(t) {
			errs = append(errs, fmt.Errorf("detector %q: %q is not an ATT&CK technique id (Tnnnn or Tnnnn.nnn)", info.ID, t))
		}
	}
	return errors.Join(errs...)
}

// NewRegistry registers ds, all enabled. It fails when an Info breaks a rule
// of ValidateInfo or two detectors share an id.
func NewRegistry(ds ...Detector) (*Registry, error) {
	r := &Registry{enabled: make(map[string]bool, len(ds))}
	var errs []error
	for _, d := range ds {
		info := d.Info()
		if err := ValidateInfo(info); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := r.enabled[info.ID]; dup {
			errs = append(errs, fmt.Errorf("detector id %q registered twice", info.ID))
			continue
		}
		r.all = append(r.all, d)
		r.enabled[info.ID] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	r.on = r.enabledList()
	r.observers = newObservers(r.on)
	return r, nil
}

// WithEnabled returns a copy of r in which the detectors named in enabled
// are switched as given; detectors not named keep their state. Unknown ids
// are an error.
func (r *Registry) WithEnabled(enabled map[string]bool) (*Registry, error) {
	out := &Registry{all: r.all, enabled: make(map[string]bool, len(r.enabled))}
	for id, on := range r.enabled {
		out.enabled[id] = on
	}
	var errs []error
	for id, on := range enabled {
		if _, ok := out.enabled[id]; !ok {
			errs = append(errs, fmt.Errorf("unknown detector %q (known: %v)", id, r.IDs()))
			continue
		}
		out.enabled[id] = on
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out.on = out.enabledList()
	out.observers = newObservers(out.on)
	return out, nil
}

// Enabled returns the enabled detectors in registration order. The slice
// is shared: callers must not modify it.
func (r *Registry) Enabled() []Detector {
	return r.on[:len(r.on):len(r.on)]
}

func (r *Registry) enabledList() []Detector {
	out := make([]Detector, 0, len(r.all))
	for _, d := range r.all {
		if r.enabled[d.Info().ID] {
			out = append(out, d)
		}
	}
	return out
}

// Listing is one detector's entry in List.
type Listing struct {
	Info
	Enabled bool
}

// List describes every registered detector, enabled or not, in registration
// order.
func (r *Registry) List() []Listing {
	out := make([]Listing, 0, len(r.all))
	for _, d := range r.all {
		info := d.Info()
		out = append(out, Listing{Info: info, Enabled: r.enabled[info.ID]})
	}
	return out
}

// IDs returns the registered ids, sorted.
func (r *Registry) IDs() []string {
	ids := make([]string, 0, len(r.all))
	for _, d := range r.all {
		ids = append(ids, d.Info().ID)
	}
	slices.Sort(ids)
	return ids
}

// WithSeverity returns d with its default severity replaced by sev, in its
// Info and in every finding it raises (the severity key of a detector's
// configuration).
func WithSeverity(d Detector, sev Severity) Detector {
	info := d.Info()
	if info.Severity == sev {
		return d
	}
	info.Severity = sev
	return &overridden{Detector: d, info: info}
}

type overridden struct {
	Detector
	info Info
}

func (o *overridden) Info() Info { return o.info }

func (o *overridden) Notes() []string {
	if n, ok := o.Detector.(Notable); ok {
		return n.Notes()
	}
	return nil
}

func (o *overridden) Observe(ev *Event, b *state.Batch) Evaluation {
	eval := o.Detector.Observe(ev, b)
	if eval == nil {
		return nil
	}
	return EvaluationFunc(func() ([]Finding, error) {
		fs, err := eval.Findings()
		for i := range fs {
			fs[i].Severity = o.info.Severity
		}
		return fs, err
	})
}
