package redis

import (
	"strings"

	"github.com/iamsentry/iamsentry/state"
)

// redisKey renders k as <prefix>{<tenant>:<identity>}:<name>.
//
// Redis Cluster hashes only what lies between the first '{' and the first
// '}' after it, so every key of one tenant and identity lands on one slot.
// Tenant and identity are escaped so that neither can end the tag early
// (a hostile identity "x}" would otherwise move its keys to another slot
// and collide with identity "x"); the tenant escapes ':' too, so that the
// first ':' inside the tag always ends it and ("a:b", "c") differs from
// ("a", "b:c"). The name follows the tag and needs no escaping: the tag
// ends at the first '}', which the escaped parts never contain.
func redisKey(prefix string, k state.Key) string {
	var b strings.Builder
	b.Grow(len(prefix) + len(k.Tenant) + len(k.Identity) + len(k.Name) + 4)
	b.WriteString(prefix)
	b.WriteByte('{')
	escape(&b, k.Tenant, "%{}:")
	b.WriteByte(':')
	escape(&b, k.Identity, "%{}")
	b.WriteString("}:")
	b.WriteString(k.Name)
	return b.String()
}

// escape writes s percent-encoding the bytes in special.
func escape(b *strings.Builder, s, special string) {
	for {
		i := strings.IndexAny(s, special)
		if i < 0 {
			b.WriteString(s)
			return
		}
		const hex = "0123456789ABCDEF"
		b.WriteString(s[:i])
		b.WriteByte('%')
		b.WriteByte(hex[s[i]>>4])
		b.WriteByte(hex[s[i]&15])
		s = s[i+1:]
	}
}
