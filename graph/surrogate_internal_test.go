package graph

import "testing"

func TestLoneSurrogateScanners(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`{"a":"\ud800"}`:             true,
		`{"a":"\udc00"}`:             true,
		`{"a":"x\ud800\u0041"}`:      true,
		`{"a":"\ud800"`:              true,
		`{"\ud800":1}`:               true,
		`{"a":"\ud83d\ude00"}`:       false, // a pair
		`{"a":"\\ud800"}`:            false, // an escaped backslash, then text
		`{"a":"\"\ud800"}`:           true,
		`{"a":"\u00e9\uDBFF\uDFFF"}`: false,
		`{"a":1} \ud800`:             false, // outside strings: not JSON's business here
		`{"a":"\u12"}`:               false,
		`{"a":"\ud800\ud800\udc00"}`: true,
		`{"a":"\uD800\\uDC00"}`:      true,
	} {
		if got := loneSurrogateJSON([]byte(in)); got != want {
			t.Errorf("loneSurrogateJSON(%s) = %v, want %v", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		`{ a(x: "\ud800") }`:                         true,
		`{ a(x: "\ud83d\ude00") }`:                   false,
		`{ a(x: """\ud800""") }`:                     false, // block strings do not process escapes
		`{ a(x: """ \""" \ud800 """, y: "\udc00") }`: true,
		`# "\ud800"` + "\n{ a }":                     false,
		`{ a(x: "\\ud800") }`:                        false,
	} {
		if got := loneSurrogateGraphQL(in); got != want {
			t.Errorf("loneSurrogateGraphQL(%s) = %v, want %v", in, got, want)
		}
	}
}
