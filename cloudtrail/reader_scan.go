package cloudtrail

// The byte scanner under Reader: it finds where one JSON value ends and
// checks its syntax on the way, touching each byte once and building
// nothing. It accepts exactly what encoding/json's scanner accepts
// (strings are not checked for valid UTF-8, as encoding/json does not).
//
// Every function works on b[:len(b)], the input read so far, and is told
// whether more can follow (eof false). Running out of bytes gives
// scanShort when more can follow, and scanBad at len(b) (an unexpected
// end of input) when it cannot; the caller then reads more and scans the
// value again from its start.

type scanResult int8

const (
	scanOK    scanResult = iota
	scanShort            // the value goes on past b: read more and rescan
	scanBad              // a syntax error at the returned index (len(b): unexpected end of input)
)

// maxNesting is encoding/json's limit on how deeply a value nests.
const maxNesting = 10000

// truncated is the result of running out of b at i.
func truncated(i int, eof bool) (int, scanResult) {
	if eof {
		return i, scanBad
	}
	return i, scanShort
}

// isSpace reports whether c is JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// skipSpace returns the index of the first non-space byte at or after i.
// Compact JSON has no space at all, and every byte above ' ' is no
// space: one comparison settles the common case, where isSpace's four
// were a tenth of the parser's instructions.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && isSpace(b[i]) {
		i++
	}
	return i
}

// plain marks the bytes a string holds as they are: everything but the
// quote, the backslash and control characters.
var plain = func() (t [256]bool) {
	for c := range t {
		t[c] = c >= 0x20 && c != '"' && c != '\\'
	}
	return t
}()

// scanString scans a string whose opening quote is at b[i-1] and returns
// the index just past its closing quote.
func scanString(b []byte, i int, eof bool) (int, scanResult) {
	for {
		// The vector run where it may read 32 bytes (see simdBlock),
		// called here rather than through a function that chooses: that
		// call was a third of what a string's run cost, as most strings
		// end within one vector step.
		if simdRuns && len(b)-i >= simdBlock {
			i += plainRunAVX2(&b[i], len(b)-i)
		} else {
			i = plainRun(b, i)
		}
		if i == len(b) {
			return truncated(i, eof)
		}
		switch b[i] {
		case '"':
			return i + 1, scanOK
		case '\\':
			end, res := scanEscape(b, i, eof)
			if res != scanOK {
				return end, res
			}
			i = end
		default: // a control character
			return i, scanBad
		}
	}
}

// scanEscape scans the escape whose backslash is at b[i].
func scanEscape(b []byte, i int, eof bool) (int, scanResult) {
	if i+1 == len(b) {
		return truncated(i+1, eof)
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2, scanOK
	case 'u':
		for p := i + 2; p < i+6; p++ {
			if p == len(b) {
				return truncated(p, eof)
			}
			if !isHex(b[p]) {
				return p, scanBad
			}
		}
		return i + 6, scanOK
	}
	return i + 1, scanBad
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// scanNumber scans a number starting at b[i]. A number has no end mark:
// it ends at the first byte that cannot continue it, so one that reaches
// the end of b is short unless the input has ended.
func scanNumber(b []byte, i int, eof bool) (int, scanResult) {
	if b[i] == '-' {
		i++
		if i == len(b) {
			return truncated(i, eof)
		}
	}
	switch {
	case b[i] == '0':
		i++
	case isDigit(b[i]):
		i = skipDigits(b, i+1)
	default:
		return i, scanBad
	}
	var res scanResult
	if i < len(b) && b[i] == '.' {
		if i, res = scanDigits(b, i+1, eof); res != scanOK {
			return i, res
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, res = scanDigits(b, i, eof); res != scanOK {
			return i, res
		}
	}
	if i == len(b) && !eof {
		return i, scanShort
	}
	return i, scanOK
}

// scanDigits scans the one or more digits a fraction or an exponent
// must have, starting at b[i].
func scanDigits(b []byte, i int, eof bool) (int, scanResult) {
	switch {
	case i == len(b):
		return truncated(i, eof)
	case !isDigit(b[i]):
		return i, scanBad
	}
	return skipDigits(b, i+1), scanOK
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// scanLiteral scans true, false or null, whose first byte is at b[i].
func scanLiteral(b []byte, i int, lit string, eof bool) (int, scanResult) {
	for k := 0; k < len(lit); k++ {
		switch p := i + k; {
		case p == len(b):
			return truncated(p, eof)
		case b[p] != lit[k]:
			return p, scanBad
		}
	}
	return i + len(lit), scanOK
}

// scanKey scans an object member's key and colon, starting at or before
// the key's opening quote, and returns the index after the colon.
func scanKey(b []byte, i int, eof bool) (int, scanResult) {
	i = skipSpace(b, i)
	if i == len(b) {
		return truncated(i, eof)
	}
	if b[i] != '"' {
		return i, scanBad
	}
	i, res := scanString(b, i+1, eof)
	if res != scanOK {
		return i, res
	}
	i = skipSpace(b, i)
	if i == len(b) {
		return truncated(i, eof)
	}
	if b[i] != ':' {
		return i, scanBad
	}
	return i + 1, scanOK
}

// scanValue scans the value starting at b[i] (no space before it) and
// returns the index just past its end.
func scanValue(b []byte, i int, eof bool) (int, scanResult) {
	return scanValueMax(b, i, eof, maxNesting)
}

// scanValueMax is scanValue for a value that may nest at most maxDepth
// containers deep: the parser scans values inside a record, whose own
// objects count toward encoding/json's limit.
func scanValueMax(b []byte, i int, eof bool, maxDepth int) (int, scanResult) {
	var open [32]byte // the containers the scan is inside: '{' or '['
	stack := open[:0]
	var res scanResult
	for {
		// A value starts at i, after any space.
		i = skipSpace(b, i)
		if i == len(b) {
			return truncated(i, eof)
		}
		switch c := b[i]; c {
		case '{', '[':
			if len(stack) >= maxDepth {
				return i, scanBad
			}
			i = skipSpace(b, i+1)
			if i == len(b) {
				return truncated(i, eof)
			}
			if b[i] == c+2 { // '}' is '{'+2, ']' is '['+2
				i++
				break
			}
			stack = append(stack, c)
			if c == '{' {
				if i, res = scanKey(b, i, eof); res != scanOK {
					return i, res
				}
			}
			continue
		case '"':
			i, res = scanString(b, i+1, eof)
		case 't':
			i, res = scanLiteral(b, i, "true", eof)
		case 'f':
			i, res = scanLiteral(b, i, "false", eof)
		case 'n':
			i, res = scanLiteral(b, i, "null", eof)
		default:
			if c != '-' && !isDigit(c) {
				return i, scanBad
			}
			i, res = scanNumber(b, i, eof)
		}
		if res != scanOK {
			return i, res
		}
		// A value ended at i: close the containers it ends.
	closing:
		for {
			if len(stack) == 0 {
				return i, scanOK
			}
			i = skipSpace(b, i)
			if i == len(b) {
				return truncated(i, eof)
			}
			top := stack[len(stack)-1]
			switch b[i] {
			case ',':
				i++
				if top == '{' {
					if i, res = scanKey(b, i, eof); res != scanOK {
						return i, res
					}
				}
				break closing
			case top + 2:
				stack = stack[:len(stack)-1]
				i++
			default:
				return i, scanBad
			}
		}
	}
}

// literalAt returns the length of the literal true, false or null that
// b[i:] starts with, or 0.
func literalAt(b []byte, i int) int {
	if i+4 > len(b) {
		return 0
	}
	switch string(b[i : i+4]) {
	case "true", "null":
		return 4
	case "fals":
		if i+5 <= len(b) && b[i+4] == 'e' {
			return 5
		}
	}
	return 0
}

// scanFlat scans the object that starts at b[i] when it is flat and
// compact: a member's value a string, a number or a literal, no space
// between tokens. It returns the index past the object; ok false says
// only that the object is not such a one, for scanValueMax to scan. An
// object it takes is one container deep, which the caller checks
// against the nesting limit.
func scanFlat(b []byte, i int) (end int, ok bool) {
	i++ // the '{'
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	var res scanResult
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, false
		}
		if i, res = scanString(b, i+1, true); res != scanOK || i+1 >= len(b) || b[i] != ':' {
			return 0, false
		}
		switch c := b[i+1]; {
		case c == '"':
			i, res = scanString(b, i+2, true)
		case c == '-' || isDigit(c):
			i, res = scanNumber(b, i+1, true)
		default:
			n := literalAt(b, i+1)
			i, res = i+1+n, scanOK
			if n == 0 {
				res = scanBad
			}
		}
		if res != scanOK || i >= len(b) {
			return 0, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}
