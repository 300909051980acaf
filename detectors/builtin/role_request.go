package builtin

import "github.com/iamsentry/iamsentry/detectors"

// roleARNParam sets *arn to the roleArn request parameter as decoding the
// record's parameters into a struct of that one field sets it, and returns
// that decode's error: from the event's RoleRequest when that decoded
// (see detectors.Event.RoleRequest), else by that decode.
func roleARNParam(ev *detectors.Event, arn *string) error {
	if q, ok := ev.RoleRequest(); ok {
		*arn = q.RoleARN
		return nil
	}
	var p struct {
		RoleARN string `json:"roleArn"`
	}
	err := ev.Record.Params(&p)
	*arn = p.RoleARN
	return err
}
