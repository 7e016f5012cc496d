// Package model holds the GraphQL types that have no domain counterpart
// (inputs, the task connection) and the JSON scalar. The domain types of the
// root package are bound directly (see gqlgen.yml).
package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/rpg-archivist/archivist"
)

// The JSON scalar is a json.RawMessage in Go; gqlgen.yml binds it to
// model.JSON, by which name gqlgen finds MarshalJSON and UnmarshalJSON.

// MarshalJSON writes v as it is; an empty value is null. A stored value that
// is not valid JSON would break the whole response, so it is written as null
// with an error on its field instead.
func MarshalJSON(v json.RawMessage) graphql.ContextMarshaler {
	return graphql.ContextWriterFunc(func(_ context.Context, w io.Writer) error {
		if len(v) == 0 {
			_, _ = io.WriteString(w, "null")
			return nil
		}
		if !json.Valid(v) {
			_, _ = io.WriteString(w, "null")
			return archivist.Errorf(archivist.CodeInternal, "stored value is not valid JSON")
		}
		_, err := w.Write(v)
		return err
	})
}

// UnmarshalJSON encodes a GraphQL input value as JSON. The value is either a
// decoded variable (maps, slices, strings, json.Number, booleans, nil) or a
// literal from the query (the same with int64 and float64 numbers); both
// encode as the JSON the client meant.
func UnmarshalJSON(_ context.Context, v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, archivist.Errorf(archivist.CodeBadUserInput, "JSON value is not valid JSON")
		}
		return raw, nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, archivist.Errorf(archivist.CodeBadUserInput, "JSON value cannot be encoded: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// The Time scalar is a time.Time in RFC 3339; gqlgen.yml binds it to
// model.Time. It is gqlgen's own, except that a value that is not a time
// is the client's error (BAD_USER_INPUT, naming the value), not an
// internal one.

// MarshalTime writes t in RFC 3339 with nanoseconds; the zero time is null.
func MarshalTime(t time.Time) graphql.Marshaler { return graphql.MarshalTime(t) }

// UnmarshalTime reads an RFC 3339 time (with or without fractions of a
// second); null or "" is the zero time.
func UnmarshalTime(v any) (time.Time, error) {
	if s, ok := v.(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil || s == "" {
			return t, nil
		}
	} else if v == nil {
		return time.Time{}, nil
	}
	return time.Time{}, archivist.Errorf(archivist.CodeBadUserInput,
		"%s is not a time: want RFC 3339, such as 2026-12-24T03:00:00Z", archivist.Clip(fmt.Sprint(v)))
}
