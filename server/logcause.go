package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// errorCause describes a scoring error for the log without its text: the
// engine's and the state backends' messages quote event ids and state keys,
// and keys carry the identities records name. What is left is what an
// operator acts on: the text of a network error (it names only the
// backend's address), the code of a Redis error reply (OOM, LOADING,
// READONLY...), and the kinds of error in the chain.
func errorCause(err error) slog.Attr {
	var attrs []any
	var ne net.Error
	if errors.As(err, &ne) {
		attrs = append(attrs, slog.String("network", ne.Error()))
	}
	var re interface {
		error
		RedisError()
	}
	if errors.As(err, &re) {
		code, _, _ := strings.Cut(re.Error(), " ")
		attrs = append(attrs, slog.String("redis_reply", code))
	}
	attrs = append(attrs, slog.String("types", errorTypes(err)))
	return slog.Group("cause", attrs...)
}

// errorTypes lists the Go types in err's chain, outermost first, leaving
// out fmt's wrappers, which say nothing.
func errorTypes(err error) string {
	var types []string
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
			return
		case interface{ Unwrap() []error }:
			for _, c := range x.Unwrap() {
				walk(c)
			}
			return
		case interface{ Unwrap() error }:
			if t := fmt.Sprintf("%T", e); t != "*fmt.wrapError" {
				types = append(types, t)
			}
			walk(x.Unwrap())
			return
		}
		types = append(types, fmt.Sprintf("%T", e))
	}
	walk(err)
	return strings.Join(types, " ")
}
