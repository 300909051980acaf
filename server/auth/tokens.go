package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"go.yaml.in/yaml/v3"
)

// Tokens is a set of bearer tokens, each naming a tenant, loaded from a
// YAML file that holds only the tokens' SHA-256 hashes:
//
//	tokens:
//	  # printf %s "$TOKEN" | sha256sum
//	  9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08: acme
//
// It is safe for concurrent use; Reload swaps the set atomically.
type Tokens struct {
	path    string
	entries atomic.Pointer[[]tokenEntry]
}

type tokenEntry struct {
	hash   [sha256.Size]byte
	tenant string
}

type tokenFile struct {
	Tokens map[string]string `yaml:"tokens"`
}

// LoadTokens reads the token file at path.
func LoadTokens(path string) (*Tokens, error) {
	t := &Tokens{path: path}
	if err := t.Reload(); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload reads the file again. On error the tokens in use stay.
func (t *Tokens) Reload() error {
	data, err := os.ReadFile(t.path)
	if err != nil {
		return fmt.Errorf("token file: %w", err)
	}
	entries, err := parseTokens(data)
	if err != nil {
		return fmt.Errorf("token file %s: %w", t.path, err)
	}
	t.entries.Store(&entries)
	return nil
}

// Len returns how many tokens the set holds.
func (t *Tokens) Len() int { return len(*t.entries.Load()) }

func parseTokens(data []byte) ([]tokenEntry, error) {
	var f tokenFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not a token file (want a tokens: map of SHA-256 hex to tenant): %w", err)
	}
	var errs []error
	var out []tokenEntry
	seen := map[[sha256.Size]byte]bool{}
	for h, tenant := range f.Tokens {
		var e tokenEntry
		raw, err := hex.DecodeString(strings.ToLower(h))
		if err != nil || len(raw) != sha256.Size {
			// The key may be a token pasted by mistake: never echo it.
			errs = append(errs, fmt.Errorf("a key is not a SHA-256 hash in hex (64 hex digits; make one with: printf %%s \"$TOKEN\" | sha256sum); for tenant %q", tenant))
			continue
		}
		copy(e.hash[:], raw)
		if err := CheckTenant(tenant); err != nil {
			errs = append(errs, fmt.Errorf("hash %s…: %w", h[:8], err))
			continue
		}
		if seen[e.hash] {
			errs = append(errs, fmt.Errorf("hash %s… appears twice", h[:8]))
			continue
		}
		seen[e.hash] = true
		e.tenant = tenant
		out = append(out, e)
	}
	if len(out) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("no tokens in it"))
	}
	return out, errors.Join(errs...)
}

// Lookup returns the tenant of token. It hashes the token and compares the
// hash with every entry in constant time, so neither the comparison nor
// the position of a match leaks through timing.
func (t *Tokens) Lookup(token string) (tenant string, ok bool) {
	sum := sha256.Sum256([]byte(token))
	for _, e := range *t.entries.Load() {
		if subtle.ConstantTimeCompare(sum[:], e.hash[:]) == 1 {
			tenant, ok = e.tenant, true
		}
	}
	return tenant, ok
}
