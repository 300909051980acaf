package policy

import (
	"bytes"
	"strings"
)

// members calls fn with the key (raw, still quoted) and value of each
// member of the JSON object b, and elements calls fn with each element of
// the JSON array b. They walk JSON that json.Valid accepted, without
// allocating: a policy document is read once per event, and encoding/json
// would build a map or slice per statement only to look at a few keys.
// On input that is not an object (array) of valid JSON they stop early;
// callers validate first.
func members(b []byte, fn func(key, val []byte) error) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' {
		return nil
	}
	rest := b[1:]
	for {
		rest = skipSpace(rest)
		if len(rest) == 0 || rest[0] == '}' {
			return nil
		}
		if rest[0] == ',' {
			rest = skipSpace(rest[1:])
		}
		n := valueEnd(rest)
		key := rest[:n]
		rest = skipSpace(rest[n:])
		if len(rest) == 0 || rest[0] != ':' {
			return nil
		}
		rest = skipSpace(rest[1:])
		n = valueEnd(rest)
		if err := fn(key, rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
}

func elements(b []byte, fn func(val []byte) error) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' {
		return nil
	}
	rest := b[1:]
	for {
		rest = skipSpace(rest)
		if len(rest) == 0 || rest[0] == ']' {
			return nil
		}
		if rest[0] == ',' {
			rest = skipSpace(rest[1:])
		}
		n := valueEnd(rest)
		if err := fn(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
}

// valueEnd returns the length of the JSON value b starts with.
func valueEnd(b []byte) int {
	depth := 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '"':
			i = stringEnd(b, i)
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i
			}
		case ',', ' ', '\t', '\r', '\n', ':':
			if depth == 0 {
				return i
			}
		}
	}
	return len(b)
}

// stringEnd returns the index of the quote closing the string opened at i.
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j
		}
	}
	return len(b) - 1
}

func skipSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n') {
		b = b[1:]
	}
	return b
}

// keyIs reports whether the raw quoted key equals name, ignoring case as
// encoding/json does when it fills a struct; a key written with escapes
// ("\u0041ction") is decoded first, as IAM would.
func keyIs(key []byte, name string) bool {
	if bytes.IndexByte(key, '\\') >= 0 {
		var k string
		return unquote(key, &k) == nil && strings.EqualFold(k, name)
	}
	return len(key) == len(name)+2 && bytes.EqualFold(key[1:len(key)-1], []byte(name))
}
