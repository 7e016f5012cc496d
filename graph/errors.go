package graph

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/rpg-archivist/archivist"
)

// Codes of errors that are not archivist errors. gqlgen sets the first two on
// requests that are not valid GraphQL; the complexity and depth limits set
// their own.
const (
	codeParseFailed      = "GRAPHQL_PARSE_FAILED"
	codeValidationFailed = "GRAPHQL_VALIDATION_FAILED"
	codeDepthLimit       = "DEPTH_LIMIT_EXCEEDED"
)

// errInternal is what a client sees of any error without a code.
var errInternal = &archivist.Error{Code: archivist.CodeInternal, Message: "internal error"}

// presentError maps every error to one with extensions.code, at the edge:
//
//   - an *archivist.Error anywhere in the chain gives its code and message
//     (but see the last case for INTERNAL); UNAVAILABLE (the store cannot
//     be reached) is one of these, with a message naming the store and
//     nothing logged: the store logs the outage once;
//   - an error gqlgen or gqlparser made about the request itself (parse,
//     validation, an undecodable body: a *gqlerror.Error with no wrapped
//     cause) keeps its code, or gets BAD_USER_INPUT, and its message;
//   - anything else, and any INTERNAL error, is internal: its text is logged
//     and the client sees "internal error" with INTERNAL.
//
// Path and locations are kept. The error given is not modified: gqlgen may
// still hold it.
func presentError(logger *slog.Logger) graphql.ErrorPresenterFunc {
	return func(ctx context.Context, err error) *gqlerror.Error {
		var gqlErr *gqlerror.Error
		if !errors.As(err, &gqlErr) {
			gqlErr = gqlerror.WrapPath(graphql.GetPath(ctx), err)
		}
		out := &gqlerror.Error{
			Message:   gqlErr.Message,
			Path:      gqlErr.Path,
			Locations: gqlErr.Locations,
			Rule:      gqlErr.Rule,
		}
		for k, v := range gqlErr.Extensions {
			if out.Extensions == nil {
				out.Extensions = make(map[string]any, len(gqlErr.Extensions)+1)
			}
			out.Extensions[k] = v
		}
		code := ""
		var appErr *archivist.Error
		switch {
		case errors.As(err, &appErr):
			code, out.Message = string(appErr.Code), appErr.Message
		case gqlErr.Err == nil:
			code, _ = gqlErr.Extensions["code"].(string)
			if code == "" {
				code = string(archivist.CodeBadUserInput)
			}
			out.Message = requestErrorMessage(out.Message)
		default:
			code = string(archivist.CodeInternal)
		}
		if code == string(archivist.CodeInternal) {
			out.Message = errInternal.Message
			switch {
			case errors.Is(err, errInternal):
			case errors.Is(err, context.Canceled) && ctx.Err() != nil:
				// The client left while a field was read: nothing went wrong.
			default:
				logger.ErrorContext(ctx, "graphql: internal error", "err", err, "path", out.Path.String())
			}
		}
		if out.Extensions == nil {
			out.Extensions = map[string]any{}
		}
		out.Extensions["code"] = code
		out.Message = clipMessage(out.Message)
		return out
	}
}

// MaxErrorMessageBytes bounds the message of an error sent to a client:
// messages quote at most archivist.MaxEchoBytes of any value they name, and
// this catches the ones that quote more (gqlparser's about a value of the
// wrong type, say), so that a megabyte of input never comes back whole.
const MaxErrorMessageBytes = 1024

func clipMessage(msg string) string {
	if len(msg) <= MaxErrorMessageBytes {
		return msg
	}
	n := MaxErrorMessageBytes
	for n > 0 && !utf8.RuneStart(msg[n]) {
		n--
	}
	return msg[:n] + "…"
}

// requestErrorMessage shortens gqlgen's message about an undecodable body,
// which quotes the whole body back.
func requestErrorMessage(msg string) string {
	if strings.HasPrefix(msg, "json request body could not be decoded") {
		if i := strings.Index(msg, " body:"); i >= 0 {
			return msg[:i]
		}
	}
	return msg
}

// recoverPanic turns a panic in a resolver into an INTERNAL error, logging
// what panicked and where.
func recoverPanic(logger *slog.Logger) graphql.RecoverFunc {
	return func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "graphql: panic", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return errInternal
	}
}
