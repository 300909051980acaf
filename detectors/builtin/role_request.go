package builtin

import (
	"github.com/iamsentry/iamsentry/cloudtrail"
	"github.com/iamsentry/iamsentry/detectors"
)

// roleARNParam returns the roleArn request parameter as decoding the
// record's parameters into a struct of that one field gives it, and that
// decode's error: from the event's RoleRequest when that decoded (see
// detectors.Event.RoleRequest), else by that decode.
func roleARNParam(ev *detectors.Event) (string, error) {
	if q, ok := ev.RoleRequest(); ok {
		return q.RoleARN, nil
	}
	type params struct {
		RoleARN string `json:"roleArn"`
	}
	p, err := ownParams[params](ev.Record)
	return p.RoleARN, err
}

// ownParams decodes r's request parameters into a T, as r.Params does, for
// a detector whose event's RoleRequest did not decode. Its own T, not the
// caller's variable, is what Params makes escape to the heap: the caller's
// stays on its stack when the RoleRequest serves (an allocation per call
// otherwise, 18k over the realistic month).
func ownParams[T any](r *cloudtrail.Record) (T, error) {
	var p T
	err := r.Params(&p)
	return p, err
}
