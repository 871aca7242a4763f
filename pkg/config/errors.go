package config

import (
	"fmt"
	"strings"
)

// FieldError reports one invalid configuration value. Its message names the
// environment variable, the JSON path inside it (when the variable holds
// JSON) and the offending value, so an operator can find the typo at once:
//
//	CALICOVPP_INTERFACES.uplinkInterfaces[0].vppDriver: unknown driver "afpacket" (want af_packet|af_xdp|dpdk|avf|virtio)
type FieldError struct {
	Variable string // environment variable, e.g. CALICOVPP_INTERFACES
	Field    string // JSON path inside the variable, e.g. uplinkInterfaces[0].vppDriver; empty for scalars
	Reason   string // what is wrong, including the value
}

func (e *FieldError) Error() string {
	return e.Path() + ": " + e.Reason
}

// Path is the variable and field joined with a dot.
func (e *FieldError) Path() string {
	if e.Field == "" {
		return e.Variable
	}
	return e.Variable + "." + e.Field
}

// fieldErrors accumulates FieldErrors while one variable is validated, so
// that an operator sees every mistake in one start-up attempt.
type fieldErrors struct {
	variable string
	errs     []error
}

func (f *fieldErrors) add(field, format string, args ...any) {
	f.errs = append(f.errs, &FieldError{Variable: f.variable, Field: field, Reason: fmt.Sprintf(format, args...)})
}

// joinField builds a JSON path: joinField("a", "b") == "a.b"; joinField("", "b") == "b".
func joinField(prefix, name string) string {
	if prefix == "" {
		return name
	}
	if strings.HasPrefix(name, "[") {
		return prefix + name
	}
	return prefix + "." + name
}
