package builtin

import "github.com/iamsentry/iamsentry/detectors"

// callsOf returns the calls of source named by m's keys, whatever their
// values: a detector's Interests may name more calls than it acts on.
func callsOf[V any](source string, names map[string]V) []detectors.Call {
	calls := make([]detectors.Call, 0, len(names))
	for name := range names {
		calls = append(calls, detectors.Call{Source: source, Name: name})
	}
	return calls
}

// The detectors that act on a few calls only (detectors.Selective).
var (
	_ detectors.Selective = (*AdminPolicyAttached)(nil)
	_ detectors.Selective = (*AssumeRoleUnexpectedSource)(nil)
	_ detectors.Selective = (*UnusualSessionName)(nil)
	_ detectors.Selective = (*PrivilegedRoleAssumptionSpike)(nil)
	_ detectors.Selective = (*PolicyWeakened)(nil)
	_ detectors.Selective = (*CredentialPersistence)(nil)
	_ detectors.Selective = (*ConsoleLoginWithoutMFA)(nil)
	_ detectors.Selective = (*PasswordPolicyWeakened)(nil)
	_ detectors.Selective = (*LoggingTampering)(nil)
)
