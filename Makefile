# Archivist: build, run and test targets. `make help` lists them.
GO        ?= go
BIN       ?= bin/archivist
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/rpg-archivist/archivist/app.Version=$(VERSION)
# The race detector is on by default; RACE= turns it off.
RACE      ?= -race
TESTFLAGS ?=

.PHONY: help build run test test-short generate lint fmt clean dashboard bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/archivist
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/archivist

run: ## run one node on the embedded store: API, playground and dashboard on http://127.0.0.1:8080
	$(GO) run -ldflags "$(LDFLAGS)" ./cmd/archivist serve $(ARGS)

test: ## run every test (unit, store conformance, end to end with real processes), with -race
	$(GO) test $(RACE) -count=1 -timeout 20m $(TESTFLAGS) ./...

test-short: ## the fast tests only
	$(GO) test -short -count=1 ./...

bench: build ## benchmark side by side with asynq (~9 min on 2 cores; BENCH_QUICK=1: ~2 min; not part of test)
	@test -f bench/main.go || { echo "make bench: the benchmark program (bench/) is not in this checkout yet: see issue 6"; exit 1; }
	cd bench/asynqside && $(GO) build -o ../../bin/asynqside .
	$(GO) run ./bench -archivist $(BIN) -asynq bin/asynqside $(BENCHFLAGS)

generate: ## regenerate the GraphQL code from graph/*.graphqls
	$(GO) tool gqlgen generate

dashboard: ## rebuild the embedded dashboard (dashboard/dist) from its source, with the locked npm packages
	cd dashboard && npm ci && npm run build

lint: ## go vet and gofmt
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output
	rm -rf bin
