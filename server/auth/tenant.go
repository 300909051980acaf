package auth

import (
	"context"
	"fmt"
	"regexp"
)

type tenantKey struct{}

// WithTenant returns ctx carrying the authenticated tenant.
func WithTenant(ctx context.Context, tenant string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenant)
}

// Tenant returns the tenant ctx carries: "" (the default tenant) when the
// call was not authenticated as a tenant.
func Tenant(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// tenantName is what a tenant may be called. The tenant prefixes every
// state key ({tenant:identity}) and Watch channel, so it must not hold the
// separators of those (":", "{", "}") or pattern characters.
var tenantName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// CheckTenant returns an error unless name is a valid tenant name: 1 to 63
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func CheckTenant(name string) error {
	if !tenantName.MatchString(name) {
		return fmt.Errorf("tenant %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}
