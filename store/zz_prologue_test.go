package store

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/rpg-archivist/archivist/internal/redistest"
)

func TestZZPrologueCost(t *testing.T) {
	srv := redistest.Start(t)
	opt, _ := redis.ParseURL(srv.URL())
	c := redis.NewClient(opt)
	ctx := context.Background()
	cpu := func() float64 {
		info := c.Info(ctx, "cpu").Val()
		var sum float64
		for _, line := range strings.Split(info, "\n") {
			k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
			if k == "used_cpu_user" || k == "used_cpu_sys" {
				f, _ := strconv.ParseFloat(v, 64)
				sum += f
			}
		}
		return sum
	}
	lib := mustReadLua("lib")
	keys := []string{"{a}:1", "{a}:2", "{a}:3", "{a}:4", "{a}:5", "{a}:6", "{a}:7", "{a}:8", "{a}:9", "{a}:10", "{a}:11", "{a}:12", "{a}:13", "{a}:14", "{a}:15", "{a}:16", "{a}:17", "{a}:18", "{a}:19"}
	for _, tc := range []struct{ name, body string }{
		{"trivial", "return 1"},
		{"time", "local t = redis.call('TIME') return 1"},
		{"lib", lib + "\nlocal function main() return 1 end\nreturn main()"},
		{"lib+limit", lib + "\n" + mustReadLua("limit_lib") + "\nlocal function main() return 1 end\nreturn main()"},
		{"create-epilogue", lib + "\n" + mustReadLua("limit_lib") + "\nlocal function main() return 1 end" + scriptEpilogue},
	} {
		s := redis.NewScript(tc.body)
		const n = 5000
		if err := s.Run(ctx, c, keys, "{a}:", 1000).Err(); err != nil {
			t.Fatal(tc.name, err)
		}
		for range 3 {
			c0 := cpu()
			for range n {
				if err := s.Run(ctx, c, keys, "{a}:", 1000).Err(); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%s: %.1f µs of Redis CPU per call", tc.name, (cpu()-c0)*1e6/n)
		}
	}
}
