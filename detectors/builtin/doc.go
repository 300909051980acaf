// Package builtin holds the detectors iamsentry ships, one file each with
// its table test beside it, and Specs, the list a process builds its
// registry from.
//
// Every detector has the constructor shape func(detectors.Config)
// (detectors.Detector, error) and, when it takes options, a
// Default<Name>Options function returning its option struct with the
// defaults. Adding a detector is one new file, one test file and one line
// in Specs; docs/detectors.md is checked against Specs by a test.
package builtin
