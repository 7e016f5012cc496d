package main

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
)

// otlpSink takes OTLP/HTTP exports as a collector would and drops them:
// the traced drain's nodes send their spans to it.
type otlpSink struct {
	*httptest.Server
	requests, bytes atomic.Int64
}

func (b *bench) otlpSink() *otlpSink {
	if b.sink != nil {
		return b.sink
	}
	s := &otlpSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.requests.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK) // an empty ExportTraceServiceResponse
	}))
	b.sink = s
	return s
}

// randomTraceparent is the W3C traceparent of a sampled span of a new
// trace, as a traced submission stores with its task.
func randomTraceparent() string {
	var id [24]byte
	_, _ = rand.Read(id[:])
	return "00-" + hex.EncodeToString(id[:16]) + "-" + hex.EncodeToString(id[16:]) + "-01"
}
