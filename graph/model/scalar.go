// Package model holds the GraphQL types that have no domain counterpart
// (inputs, the task connection) and the JSON scalar. The domain types of the
// root package are bound directly (see gqlgen.yml).
package model

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

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
