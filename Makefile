# Archivist: build, run and test targets. `make help` lists them.
GO        ?= go
# The Go toolchain of builds and tests is named by go.mod's toolchain line
# (go1.27.3), so that plain go build and go test use it too: the go command
# fetches it from the module proxy on first use (about 76 MB). Go 1.26.8, the
# newest 1.26 here, has 14 known vulnerabilities in standard library code that
# Archivist calls (make vulncheck); 1.27.3 fixes them. GOTOOLCHAIN=auto (Go's
# own default) is what honours that line; it is set here because some Go
# installations set local in their go.env (the one installed here does), which
# would ignore it. make GOTOOLCHAIN=local uses the installed Go instead.
export GOTOOLCHAIN ?= auto
BIN       ?= bin/archivist
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X github.com/rpg-archivist/archivist/app.Version=$(VERSION)
# The race detector is on by default; RACE= turns it off.
RACE      ?= -race
TESTFLAGS ?=

# Supply-chain checks (make vulncheck, make audit-npm). The Go vulnerability
# database is the golang.org/x/vulndb module from the module proxy (vuln.go.dev
# is not reachable here), pinned to one commit: its date is the date of the
# data, which make vulncheck prints. Move it to a newer pseudo-version for
# newer data (go list -m golang.org/x/vulndb@master names the newest).
VULNDB_VERSION      ?= v0.0.0-20261105234957-e22db6528018
GOVULNCHECK_VERSION ?= v1.9.0
# Called vulnerabilities of the standard library are fixed only by a newer Go
# toolchain (see go.mod's toolchain line): fail fails on them, warn only lists
# them. Called vulnerabilities in required modules always fail.
VULNCHECK_STDLIB    ?= fail
VULNCHECK_CACHE     ?= .cache/vulncheck
NPM_AUDIT_LEVEL     ?= high

.PHONY: help build run test test-short generate lint flagdoc fmt clean dashboard client bench vulncheck audit-npm chaos

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

# make chaos: a cluster of real nodes on a real Redis under a random schedule
# of faults, then its invariants checked (internal/chaos). CHAOS_FLAGS passes
# flags: -duration 3m, -seed N (printed at start) to replay a schedule,
# -topology standalone|cluster|cluster-replicas|sentinel, -max-leaderless 5s,
# -nodes, -rate, -dir (keeps logs and data).
CHAOS_FLAGS ?=

chaos: build ## 3 min of faults (node SIGKILL/SIGSTOP, Redis restarts) on a live cluster, then check its invariants (CHAOS_FLAGS)
	$(GO) build -o bin/archivist-chaos ./cmd/archivist-chaos
	bin/archivist-chaos -bin $(BIN) $(CHAOS_FLAGS)

bench: build ## benchmark side by side with asynq (~11 min on 2 cores; BENCH_QUICK=1: ~2 min; not part of test)
	cd bench/asynqside && $(GO) build -o ../../bin/asynqside .
	$(GO) run ./bench -archivist $(BIN) -asynq bin/asynqside $(BENCHFLAGS)

# GOEXPERIMENT=nojsonv2: under go1.27, encoding/json's RawMessage is an alias
# of encoding/json/jsontext.Value, which gqlgen would write into the generated
# code; that code would then not build with Go 1.26, the version go.mod names.
generate: ## regenerate the GraphQL code from graph/*.graphqls: gqlgen's, the TypeScript client's types and the dashboard's result types (after npm ci in clients/typescript)
	GOEXPERIMENT=nojsonv2 $(GO) tool gqlgen generate
	@test -d clients/typescript/node_modules || { echo "clients/typescript/node_modules is missing: run (cd clients/typescript && npm ci), then make generate"; exit 1; }
	cd clients/typescript && npm run --silent generate

client: ## build the TypeScript client (clients/typescript/dist) with the locked npm packages; npm pack there makes the package
	cd clients/typescript && npm ci && npm run build

dashboard: ## rebuild the embedded dashboard (dashboard/dist) from its source and the TypeScript client's, with the locked npm packages
	cd clients/typescript && npm ci
	cd dashboard && npm ci && npm run build

lint: ## go vet, gofmt, the flag table of docs/configuration.md up to date, and no dead relative link in the Markdown
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) run ./internal/tools/flagdoc -check
	$(GO) run ./internal/tools/mdlinks

flagdoc: ## write the flag table of docs/configuration.md from archivist serve's flags (make lint checks it)
	$(GO) run ./internal/tools/flagdoc

vulncheck: ## govulncheck ./... with the Go vulnerability database from the module proxy (VULNDB_VERSION); fails on called vulnerabilities in modules
	@mkdir -p $(VULNCHECK_CACHE)
	$(GO) build -o $(VULNCHECK_CACHE)/vulncheck ./internal/tools/vulncheck
	$(VULNCHECK_CACHE)/vulncheck db -vulndb golang.org/x/vulndb@$(VULNDB_VERSION) -out $(VULNCHECK_CACHE)/db
	@for i in 1 2 3; do \
	  GOBIN=$(abspath $(VULNCHECK_CACHE))/govulncheck-$(GOVULNCHECK_VERSION) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) && \
	  (cd internal/tools/vulncheck/testdata/canary && $(GO) mod download) && break; \
	  [ $$i = 3 ] && exit 1; sleep $$((i * 5)); done
	@echo "vulncheck: self-test on internal/tools/vulncheck/testdata/canary, which calls known-vulnerable code"
	cd internal/tools/vulncheck/testdata/canary && $(abspath $(VULNCHECK_CACHE))/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck \
	  -db file://$(abspath $(VULNCHECK_CACHE))/db -format json ./... > $(abspath $(VULNCHECK_CACHE))/canary.json
	$(VULNCHECK_CACHE)/vulncheck report -expect GO-2021-0113,GO-2022-1059 $(VULNCHECK_CACHE)/canary.json
	$(VULNCHECK_CACHE)/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck -db file://$(abspath $(VULNCHECK_CACHE))/db -format json ./... > $(VULNCHECK_CACHE)/result.json
	$(VULNCHECK_CACHE)/vulncheck report -stdlib $(VULNCHECK_STDLIB) $(VULNCHECK_CACHE)/result.json

audit-npm: ## npm audit of the runtime packages of the dashboard and the TypeScript client: fails on NPM_AUDIT_LEVEL (high) findings; only warns, loudly, if the audit service refuses
	$(GO) run ./internal/tools/npmaudit -dir dashboard -level $(NPM_AUDIT_LEVEL)
	$(GO) run ./internal/tools/npmaudit -dir clients/typescript -level $(NPM_AUDIT_LEVEL)

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

clean: ## remove build output
	rm -rf bin
