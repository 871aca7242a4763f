package vpplink

import (
	"errors"
	"fmt"
	"strings"

	"go.fd.io/govpp/api"
	"go.fd.io/govpp/core"
)

// ErrConnectionLost is wrapped by errors reporting that VPP went away.
var ErrConnectionLost = errors.New("VPP API connection lost")

// ErrInvalid is wrapped by errors for requests refused before reaching
// VPP (a wrong address family, a translation without backends).
var ErrInvalid = errors.New("invalid request")

// Retval is a VNET_API_ERROR_* code as returned in a reply's retval.
type Retval int32

// The VPP error codes callers branch on (vnet/api_errno.h).
const (
	RetvalUnspecified          Retval = -1
	RetvalInvalidSwIfIndex     Retval = -2
	RetvalNoSuchFib            Retval = -3
	RetvalNoSuchEntry          Retval = -6
	RetvalInvalidValue         Retval = -7
	RetvalInvalidValue2        Retval = -8
	RetvalUnimplemented        Retval = -9
	RetvalInvalidSwIfIndex2    Retval = -10
	RetvalSyscallError1        Retval = -11
	RetvalNoSuchTable          Retval = -65
	RetvalInvalidInterface     Retval = -71
	RetvalInvalidArgument      Retval = -73
	RetvalTunnelExist          Retval = -75
	RetvalIfAlreadyExists      Retval = -79
	RetvalValueExist           Retval = -81
	RetvalInvalidAddressFamily Retval = -97
	RetvalAddressInUse         Retval = -105
	RetvalAddressNotInUse      Retval = -106
	RetvalAddressFoundForIf    Retval = -114
	RetvalEntryAlreadyExists   Retval = -116
	RetvalInstanceInUse        Retval = -147
)

// Name is the symbolic name, as VPP prints it.
func (r Retval) Name() string {
	if n, ok := retvalNames[r]; ok {
		return "VNET_API_ERROR_" + n
	}
	return fmt.Sprintf("VNET_API_ERROR_%d", int32(r))
}

func (r Retval) String() string { return fmt.Sprintf("%s (%d)", r.Name(), int32(r)) }

// Error is a failed VPP API call. Op says what was attempted ("create ipip
// tunnel"), Object which object ("198.18.0.1->198.18.1.1"); Retval is set
// when VPP answered with an error code, Err otherwise.
type Error struct {
	Op     string
	Object string
	Retval Retval
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Object != "" {
		b.WriteString(" ")
		b.WriteString(e.Object)
	}
	b.WriteString(": ")
	if e.Retval != 0 {
		b.WriteString(e.Retval.String())
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// invalid builds the error of a request refused before it reached VPP.
func invalid(op, object, format string, args ...any) error {
	return &Error{Op: op, Object: object, Err: fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))}
}

func (e *Error) Unwrap() error { return e.Err }

// Retriable reports whether the call may succeed if repeated later: the
// connection failed or timed out, as opposed to VPP refusing the request.
func (e *Error) Retriable() bool {
	return e.Retval == 0 && !errors.Is(e.Err, ErrInvalid)
}

// IsRetval reports whether err is a VPP refusal with the given code.
func IsRetval(err error, r Retval) bool {
	var e *Error
	return errors.As(err, &e) && e.Retval == r
}

// IsRetriable reports whether err is worth retrying (see Error.Retriable).
func IsRetriable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retriable()
	}
	return false
}

// wrap turns a govpp error into an *Error.
func wrap(op, object string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Object: object, Err: err}
	var apiErr api.VPPApiError
	if errors.As(err, &apiErr) {
		e.Retval = Retval(apiErr)
	}
	if errors.Is(err, core.ErrNotConnected) {
		e.Err = fmt.Errorf("%w: %v", ErrConnectionLost, err)
	}
	return e
}

// retvalErr builds an *Error from a reply's retval (for replies decoded
// without govpp's automatic check, as in the pipelined bulk path).
func retvalErr(op, object string, retval int32) error {
	if retval == 0 {
		return nil
	}
	return &Error{Op: op, Object: object, Retval: Retval(retval), Err: api.VPPApiError(retval)}
}
