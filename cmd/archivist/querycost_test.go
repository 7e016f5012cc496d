package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestQueryCostLimits: on a real node without keys (a developer's), the
// fragment query of 27 levels is refused at once, a response over
// --max-response-bytes is refused, and a cross-site GET without an Origin
// (what an <img src> on any web page sends) never runs.
func TestQueryCostLimits(t *testing.T) {
	n := startNode(t, "--store", "memory", "--max-response-bytes", "2000")

	var bomb strings.Builder
	bomb.WriteString("query { ...F27 }\nfragment F1 on Query { nodes { id } }\n")
	for i := 2; i <= 27; i++ {
		fmt.Fprintf(&bomb, "fragment F%d on Query { ...F%d ...F%d }\n", i, i-1, i-1)
	}
	body, _ := json.Marshal(map[string]string{"query": bomb.String()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // 25 s of CPU before
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+n.addr+"/graphql", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("the fragment query: no answer within the deadline: %v", err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(raw), "GRAPHQL_VALIDATION_FAILED") || !strings.Contains(string(raw), "1000") {
		t.Fatalf("the fragment query: %d %s", resp.StatusCode, raw)
	}

	if resp, body := n.call(t, "POST", "/graphql", "", `{"query":"{ taskTypes }"}`, nil); resp.StatusCode != 200 || strings.Contains(body, "errors") {
		t.Fatalf("a small query: %d %s", resp.StatusCode, body)
	}
	if _, body := n.call(t, "POST", "/graphql", "", `{"query":"{ __schema { types { name description } } }"}`, nil); !strings.Contains(body, "RESPONSE_TOO_LARGE") || strings.Contains(body, "DistributedTask") {
		t.Fatalf("a response over --max-response-bytes: %s", body)
	}

	get := "/graphql?query=" + url.QueryEscape(`{ taskTypes }`)
	for _, site := range []string{"cross-site", "same-site"} {
		if resp, body := n.call(t, "GET", get, "", "", map[string]string{"Sec-Fetch-Site": site}); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "FORBIDDEN") {
			t.Fatalf("GET with Sec-Fetch-Site %s and no Origin: %d %s", site, resp.StatusCode, body)
		}
	}
	if resp, body := n.call(t, "POST", "/graphql", "", `{"query":"mutation { submitTask(input: {type: \"echo\"}) { id } }"}`, map[string]string{"Sec-Fetch-Site": "cross-site"}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with Sec-Fetch-Site cross-site and no Origin: %d %s", resp.StatusCode, body)
	}
	for _, site := range []string{"same-origin", "none"} {
		if resp, body := n.call(t, "GET", get, "", "", map[string]string{"Sec-Fetch-Site": site}); resp.StatusCode != 200 || !strings.Contains(body, "echo") {
			t.Fatalf("GET with Sec-Fetch-Site %s: %d %s", site, resp.StatusCode, body)
		}
	}
}
