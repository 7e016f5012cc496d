package model

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rpg-archivist/archivist"
)

func TestUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, `null`},
		{"a<b>", `"a<b>"`},
		{int64(42), `42`},
		{2.5, `2.5`},
		{json.Number("12345678901234567890"), `12345678901234567890`},
		{map[string]any{"b": []any{true, nil}, "a": map[string]any{}}, `{"a":{},"b":[true,null]}`},
		{json.RawMessage(`{"raw": 1}`), `{"raw": 1}`},
	}
	for _, tt := range tests {
		got, err := UnmarshalJSON(context.Background(), tt.in)
		if err != nil || string(got) != tt.want {
			t.Errorf("UnmarshalJSON(%#v) = %s, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []any{json.RawMessage(`{`), make(chan int), json.Number("1x")} {
		if _, err := UnmarshalJSON(context.Background(), bad); !archivist.IsCode(err, archivist.CodeBadUserInput) {
			t.Errorf("UnmarshalJSON(%#v): err %v, want BAD_USER_INPUT", bad, err)
		}
	}
}

func TestMarshalJSON(t *testing.T) {
	for in, want := range map[string]string{``: `null`, `{"a":1}`: `{"a":1}`, `[1, 2]`: `[1, 2]`} {
		var buf bytes.Buffer
		if err := MarshalJSON(json.RawMessage(in)).MarshalGQLContext(context.Background(), &buf); err != nil || buf.String() != want {
			t.Errorf("MarshalJSON(%q) = %q, %v; want %q", in, buf.String(), err, want)
		}
	}
	var buf bytes.Buffer
	err := MarshalJSON(json.RawMessage(`{"broken`)).MarshalGQLContext(context.Background(), &buf)
	if err == nil || buf.String() != "null" {
		t.Errorf("invalid stored JSON: wrote %q, err %v; want null and an error", buf.String(), err)
	}
}
