// Package auth authenticates the callers of the gRPC port and names their
// tenant: server TLS from files reloaded when they change, mutual TLS with
// a client CA, and bearer tokens from a file of token hashes.
//
// The tenant of a call comes only from what authenticated it, never from a
// field the caller sets:
//
//   - a bearer token: the tenant the token file maps the token's SHA-256 to;
//   - a verified client certificate: the <name> of the first URI SAN whose
//     path ends in /tenant/<name> (SPIFFE style,
//     spiffe://example.org/iamsentry/tenant/acme), else the Subject CN.
//
// A call carrying a bearer token is judged by the token alone (a bad token
// fails even beside a good certificate). With authentication off every
// call belongs to the default tenant "".
package auth
