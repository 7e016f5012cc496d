package archivist

import (
	"errors"
	"fmt"
)

// ErrorCode classifies an error for clients. The GraphQL layer reports it as
// extensions.code.
type ErrorCode string

// Error codes, as the API reports them.
const (
	CodeBadUserInput    ErrorCode = "BAD_USER_INPUT"
	CodeNotFound        ErrorCode = "NOT_FOUND"
	CodeUnauthenticated ErrorCode = "UNAUTHENTICATED"
	CodeForbidden       ErrorCode = "FORBIDDEN"
	CodeConflict        ErrorCode = "CONFLICT"
	CodeInternal        ErrorCode = "INTERNAL"
	// CodeUnavailable: the store cannot be reached (Redis down, a network
	// partition, a failover under way) or is closed. Nothing is wrong with
	// the request; try again later.
	CodeUnavailable ErrorCode = "UNAVAILABLE"
)

// Error is an error with a code and a message meant for the client. Errors
// without a code are internal: their text is logged, never shown.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCodeOf(err error) ErrorCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessageOf returns the client-facing message of err: the message of its
// *Error, or a generic text for internal errors so that internals never leak.
func ErrorMessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code ErrorCode) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
