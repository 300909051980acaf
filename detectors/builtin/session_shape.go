package builtin

import (
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// uuidPattern finds UUIDs, which many tools put in session names; they
// shape as one token so their random hex groups do not make new shapes.
var uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// SessionNameShape returns the shape of a session name (RoleSessionName or
// SourceIdentity): its runs of ASCII letters and digits replaced by a class,
// other characters kept, then "/" and a length band. Names one tool or one
// convention produces share a shape; a name made another way rarely does.
//
// Classes: "9" digits only; "a" lower-case letters; "A" upper-case letters;
// "Aa" letters of both cases; "x" lower-case hex digits with at least one
// digit (instance ids, commit hashes); "X" any other mix of letters and
// digits; "U" a whole UUID. Bands: "s" up to 12 bytes, "m" up to 32, "l"
// longer. Examples: "alice@example.com" → "a@a.a/m",
// "botocore-session-1722375070" → "a-a-9/m", "i-0abc123def4567890" → "a-x/m".
func SessionNameShape(name string) string {
	var b strings.Builder
	last := 0
	for _, m := range uuidPattern.FindAllStringIndex(name, -1) {
		writeShape(&b, name[last:m[0]])
		b.WriteByte('U')
		last = m[1]
	}
	writeShape(&b, name[last:])
	b.WriteByte('/')
	switch n := len(name); {
	case n <= 12:
		b.WriteByte('s')
	case n <= 32:
		b.WriteByte('m')
	default:
		b.WriteByte('l')
	}
	return b.String()
}

func writeShape(b *strings.Builder, s string) {
	for s != "" {
		if n := alnumRun(s); n > 0 {
			b.WriteString(tokenClass(s[:n]))
			s = s[n:]
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		b.WriteRune(r)
		s = s[size:]
	}
}

func alnumRun(s string) int {
	for i := 0; i < len(s); i++ {
		if charClass(s[i]) == 0 {
			return i
		}
	}
	return len(s)
}

// Character classes of ASCII letters and digits; 0 is anything else.
const (
	classLower = 1 << iota
	classUpper
	classDigit
)

func charClass(c byte) int {
	switch {
	case 'a' <= c && c <= 'z':
		return classLower
	case 'A' <= c && c <= 'Z':
		return classUpper
	case '0' <= c && c <= '9':
		return classDigit
	}
	return 0
}

func tokenClass(tok string) string {
	classes, hex := 0, true
	for i := 0; i < len(tok); i++ {
		classes |= charClass(tok[i])
		hex = hex && (charClass(tok[i]) == classDigit || 'a' <= tok[i] && tok[i] <= 'f')
	}
	switch classes {
	case classDigit:
		return "9"
	case classLower:
		return "a"
	case classUpper:
		return "A"
	case classLower | classUpper:
		return "Aa"
	}
	if hex {
		return "x"
	}
	return "X"
}

// Randomness is the evidence that a session-name token looks machine-random.
type Randomness struct {
	Token    string  // the token judged random
	Entropy  float64 // Shannon entropy, bits per character
	Switches float64 // share of adjacent characters of different class (lower, upper, digit)
	Wordlike float64 // share of its letters inside word-like runs ([A-Z]?[a-z]{2,})
}

// LooksRandom reports whether a run of letters and digits in name (outside
// UUIDs) looks like a random base62/base64 string rather than an id or
// words: at least minLen characters; letters and digits both present; not
// hex; the character class changes between at least half of adjacent
// characters; under half of its letters in word-like runs (CamelCase words
// such as "S3BackupJob2024v2" are not random); entropy at least minEntropy
// bits per character. It is tuned for quiet: digits (epochs), hex (instance
// ids, hashes), UUIDs and upper-case ids (AIDA…) never count, and about half
// of truly random mixed-case tokens do.
func LooksRandom(name string, minLen int, minEntropy float64) (Randomness, bool) {
	name = uuidPattern.ReplaceAllString(name, "-")
	for s := name; s != ""; {
		n := alnumRun(s)
		if n == 0 {
			s = s[1:]
			continue
		}
		if r, ok := randomToken(s[:n], minLen, minEntropy); ok {
			return r, true
		}
		s = s[n:]
	}
	return Randomness{}, false
}

func randomToken(tok string, minLen int, minEntropy float64) (Randomness, bool) {
	if len(tok) < minLen || tokenClass(tok) != "X" { // "X": letters and digits, not lower-case hex
		return Randomness{}, false
	}
	if strings.ToUpper(tok) == tok && tokenClass(strings.ToLower(tok)) == "x" {
		return Randomness{}, false // upper-case hex
	}
	r := Randomness{Token: tok, Entropy: entropy(tok)}
	switches, letters, inWords := 0, 0, 0
	for i := 0; i < len(tok); i++ {
		if i > 0 && charClass(tok[i]) != charClass(tok[i-1]) {
			switches++
		}
		if charClass(tok[i]) != classDigit {
			letters++
		}
	}
	for _, w := range wordlikeRun.FindAllString(tok, -1) {
		inWords += len(w)
	}
	r.Switches = float64(switches) / float64(len(tok)-1)
	r.Wordlike = float64(inWords) / float64(letters)
	return r, r.Switches >= 0.5 && r.Wordlike < 0.5 && r.Entropy >= minEntropy
}

var wordlikeRun = regexp.MustCompile(`[A-Z]?[a-z]{2,}`)

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(len(s))
			h -= p * math.Log2(p)
		}
	}
	return h
}
