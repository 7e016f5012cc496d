package tasks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// fields is a task input decoded one level deep, so that each field can be
// checked on its own and reported by name.
type fields map[string]json.RawMessage

// decodeFields decodes input as a JSON object whose keys are all in allowed.
// example is shown to the user when the input is not an object at all.
func decodeFields(input json.RawMessage, example string, allowed ...string) (fields, error) {
	trimmed := bytes.TrimSpace(input)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("input must be a JSON object such as %s", example)
	}
	var f fields
	if err := json.Unmarshal(trimmed, &f); err != nil {
		return nil, fmt.Errorf("input must be a JSON object such as %s: %v", example, err)
	}
	var unknown []string
	for k := range f {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, fmt.Errorf("unknown field %s; allowed fields: %s", strings.Join(unknown, ", "), strings.Join(allowed, ", "))
	}
	return f, nil
}

// has reports whether name is present and not null; an explicit null counts
// as absent so that clients can send optional fields uniformly.
func (f fields) has(name string) bool {
	raw, ok := f[name]
	return ok && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// int returns the integer field name, which must lie in [lo, hi]. A JSON
// number with a zero fraction (1e3, 2.0) counts as an integer; a quoted number
// does not. ok is false when the field is absent.
func (f fields) int(name string, lo, hi int64) (v int64, ok bool, err error) {
	if !f.has(name) {
		return 0, false, nil
	}
	raw := bytes.TrimSpace(f[name])
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, true, fmt.Errorf("%s must be an integer between %d and %d, got %s", name, lo, hi, describeJSON(raw))
	}
	s := string(raw)
	v, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		fv, ferr := strconv.ParseFloat(s, 64)
		switch {
		case ferr == nil && fv != math.Trunc(fv):
			return 0, true, fmt.Errorf("%s must be an integer between %d and %d, got %s", name, lo, hi, s)
		case ferr == nil && fv >= math.MinInt64 && fv < math.MaxInt64:
			v = int64(fv)
		default:
			return 0, true, fmt.Errorf("%s must be between %d and %d, got %s", name, lo, hi, s)
		}
	}
	if v < lo || v > hi {
		return 0, true, fmt.Errorf("%s must be between %d and %d, got %d", name, lo, hi, v)
	}
	return v, true, nil
}

// string returns the string field name. ok is false when it is absent.
func (f fields) string(name string) (v string, ok bool, err error) {
	if !f.has(name) {
		return "", false, nil
	}
	if err := json.Unmarshal(f[name], &v); err != nil {
		return "", true, fmt.Errorf("%s must be a string, got %s", name, describeJSON(f[name]))
	}
	return v, true, nil
}

// bool returns the boolean field name, false when it is absent.
func (f fields) bool(name string) (bool, error) {
	if !f.has(name) {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(f[name], &v); err != nil {
		return false, fmt.Errorf("%s must be true or false, got %s", name, describeJSON(f[name]))
	}
	return v, nil
}

// describeJSON names the kind of a JSON value for an error message, with the
// value itself when it is short.
func describeJSON(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	var kind string
	switch {
	case len(raw) == 0:
		return "nothing"
	case raw[0] == '"':
		kind = "a string"
	case raw[0] == '{':
		kind = "an object"
	case raw[0] == '[':
		kind = "an array"
	case raw[0] == 't' || raw[0] == 'f':
		kind = "a boolean"
	case raw[0] == 'n':
		return "null"
	default:
		kind = "a number"
	}
	if len(raw) <= 40 {
		return kind + " " + string(raw)
	}
	return kind
}
