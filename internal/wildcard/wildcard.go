// Package wildcard matches strings against the patterns IAM uses in ARNs and
// actions: '*' matches any run of characters (including '/' and ':'), '?'
// matches exactly one character, everything else matches itself.
package wildcard

import "strings"

// Match reports whether s matches pattern, case-sensitively (as ARNs are).
func Match(pattern, s string) bool {
	// Iterative matcher with single-star backtracking: linear in practice and
	// never exponential, whatever the pattern (patterns come from config
	// files and from attacker-written policy documents).
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// MatchFold is Match ignoring ASCII case, as IAM compares actions
// ("iam:passrole" is "iam:PassRole").
func MatchFold(pattern, s string) bool {
	return Match(strings.ToLower(pattern), strings.ToLower(s))
}

// Has reports whether pattern contains a wildcard character.
func Has(pattern string) bool { return strings.ContainsAny(pattern, "*?") }
