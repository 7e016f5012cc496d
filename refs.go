package archivist

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// A step's input may refer to the result of a step it depends on: an
// object {"$ref": "STEP.result"} anywhere in the input stands for that
// step's result, and {"$ref": "STEP.result.a.b.0"} for what lies at that
// path below it (object keys and array indexes). References are checked
// when the workflow is submitted (they must name a step the step depends
// on) and resolved before each attempt of the step, from its parents'
// results, which no longer change once the step is released.

// Ref is one {"$ref": ...} of an input.
type Ref struct {
	// Raw is the reference as written.
	Raw string
	// Step is the key of the step referred to; Path the keys and indexes
	// below its result.
	Step string
	Path []string
}

// refKey is the one key of a reference object.
const refKey = "$ref"

// ParseRef parses "STEP.result[.path...]".
func ParseRef(s string) (Ref, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || parts[1] != "result" || parts[0] == "" {
		return Ref{}, Errorf(CodeBadUserInput, "$ref %q: write STEP.result or STEP.result.path", Clip(s))
	}
	for _, p := range parts[2:] {
		if p == "" {
			return Ref{}, Errorf(CodeBadUserInput, "$ref %q has an empty path element", Clip(s))
		}
	}
	return Ref{Raw: s, Step: parts[0], Path: parts[2:]}, nil
}

// HasRefs reports cheaply whether input may hold a reference.
func HasRefs(input json.RawMessage) bool { return bytes.Contains(input, []byte(`"$ref"`)) }

// FindRefs returns the references in input, in the order they appear.
func FindRefs(input json.RawMessage) ([]Ref, error) {
	if !HasRefs(input) {
		return nil, nil
	}
	var v any
	if err := decodeJSON(input, &v); err != nil {
		return nil, Errorf(CodeBadUserInput, "input is not valid JSON")
	}
	var refs []Ref
	var err error
	walkRefs(v, func(raw any) any {
		s, ok := raw.(string)
		if !ok {
			err = Errorf(CodeBadUserInput, "a $ref must be a string such as \"index.result\"")
			return nil
		}
		r, e := ParseRef(s)
		if e != nil {
			err = e
			return nil
		}
		refs = append(refs, r)
		return nil
	})
	return refs, err
}

// ResolveRefs returns input with every reference replaced by what it
// refers to in results (step key -> result). A reference to a path that
// the result does not have is an error naming it.
func ResolveRefs(input json.RawMessage, results map[string]json.RawMessage) (json.RawMessage, error) {
	if !HasRefs(input) {
		return input, nil
	}
	var v any
	if err := decodeJSON(input, &v); err != nil {
		return nil, fmt.Errorf("input is not valid JSON: %w", err)
	}
	var err error
	out := walkRefs(v, func(raw any) any {
		s, _ := raw.(string)
		r, e := ParseRef(s)
		if e != nil {
			err = e
			return nil
		}
		res, ok := results[r.Step]
		if !ok {
			err = fmt.Errorf("$ref %q: no result of step %s", s, r.Step)
			return nil
		}
		var cur any
		if len(res) > 0 {
			if e := decodeJSON(res, &cur); e != nil {
				err = fmt.Errorf("$ref %q: the result of step %s is not JSON", s, r.Step)
				return nil
			}
		}
		for i, p := range r.Path {
			switch c := cur.(type) {
			case map[string]any:
				next, ok := c[p]
				if !ok {
					err = fmt.Errorf("$ref %q: the result of step %s has no %s", s, r.Step, strings.Join(r.Path[:i+1], "."))
					return nil
				}
				cur = next
			case []any:
				n, e := strconv.Atoi(p)
				if e != nil || n < 0 || n >= len(c) {
					err = fmt.Errorf("$ref %q: the result of step %s has no element %s", s, r.Step, strings.Join(r.Path[:i+1], "."))
					return nil
				}
				cur = c[n]
			default:
				err = fmt.Errorf("$ref %q: the result of step %s has no %s", s, r.Step, strings.Join(r.Path[:i+1], "."))
				return nil
			}
		}
		return cur
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// walkRefs returns v with every object {"$ref": x} replaced by fn(x),
// depth first.
func walkRefs(v any, fn func(raw any) any) any {
	switch c := v.(type) {
	case map[string]any:
		if raw, ok := c[refKey]; ok && len(c) == 1 {
			return fn(raw)
		}
		for k, x := range c {
			c[k] = walkRefs(x, fn)
		}
	case []any:
		for i, x := range c {
			c[i] = walkRefs(x, fn)
		}
	}
	return v
}

// decodeJSON decodes keeping numbers as written (json.Number), so that a
// resolved input keeps big numbers' digits.
func decodeJSON(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}
