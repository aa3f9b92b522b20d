# Baton: common tasks. `make help` lists them.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
PKGS := ./...

.PHONY: help test test-short lint bench bench-quick bench-conductor bench-micro test-conductor test-faults fuzz ci

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## the quickstart: 100 workflows through Baton workers on the in-process dev server or CONDUCTOR_SERVER_URL (flags: RUN_ARGS="-h")
	$(GO) run ./examples/quickstart $(RUN_ARGS)

test: ## run every test of the module with the race detector (the README's test command)
	$(GO) test -race -count=1 $(PKGS)

test-short: ## the quick subset (skips the long end-to-end runs)
	$(GO) test -race -count=1 -short $(PKGS)

lint: ## gofmt check, go vet and staticcheck
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

bench: ## Baton vs the official Go SDK vs a bare poll/update loop: writes BENCHMARKS.md and docs/bench.png (under 10 min)
	cd test/bench && $(GO) run ./cmd/bench -out ../../BENCHMARKS.md -chart ../../docs/bench.png

bench-quick: ## the same driver, CI-sized (one round, fewer tasks), report to stdout only
	cd test/bench && $(GO) test -count=1 ./... && $(GO) run ./cmd/bench -quick

# Each server in turn (never two JVMs at once): test/conductor/run.sh starts
# it on a free loopback port, exports CONDUCTOR_SERVER_URL/_VERSION/_STORE,
# runs the driver and stops the server. BENCH_CONDUCTOR_SERVERS picks a subset
# (version:store ...); BENCH_CONDUCTOR_ARGS shortens a run (e.g. "-rounds 1
# -tasks 500 -types-n 10,400").
BENCH_CONDUCTOR_SERVERS ?= 3.21.14:redis 3.32.3:sqlite 3.32.3:redis
BENCH_CONDUCTOR_ARGS ?=
bench-conductor: ## Baton vs the official SDK vs the limit on real Conductor servers (3.21.14 redis, 3.32.3 sqlite and redis): adds its section to BENCHMARKS.md and docs/bench-conductor.png (10-20 min per server here)
	cd test/bench && $(GO) build -o /dev/null ./cmd/bench
	@set -e; for spec in $(BENCH_CONDUCTOR_SERVERS); do \
	  echo "== bench-conductor: Conductor $${spec%%:*} ($${spec##*:})"; \
	  CONDUCTOR_VERSION=$${spec%%:*} CONDUCTOR_STORE=$${spec##*:} test/conductor/run.sh sh -c \
	    'cd test/bench && exec $(GO) run ./cmd/bench -server "$$CONDUCTOR_SERVER_URL" -server-version "$$CONDUCTOR_SERVER_VERSION" -server-store "$$CONDUCTOR_SERVER_STORE" $(BENCH_CONDUCTOR_ARGS) -out ../../BENCHMARKS.md -chart ../../docs/bench-conductor.png -real-data ../../docs/bench-conductor'; \
	done

bench-micro: ## go test micro-benchmarks of the hot paths, allocations included
	$(GO) test -run '^$$' -bench . -benchmem ./sdk/...

test-conductor: ## the integration suite, then conductortest's black-box tests, against a real Conductor OSS server (downloads it on first use)
	test/conductor/run.sh test/conductor/suite.sh

test-faults: ## the fault suite: outages, injected errors, bad handlers, SIGTERM (about 5 minutes)
	$(GO) test -race -count=1 -timeout 20m ./test/faults/...

FUZZTIME ?= 30s
fuzz: ## run every fuzz test for FUZZTIME each (seed corpora live in testdata/fuzz)
	@set -e; grep -rlE '^func Fuzz[A-Za-z0-9_]*\(' --include='*_test.go' sdk internal examples test 2>/dev/null | sort | while read -r file; do \
	  dir=./$$(dirname "$$file"); \
	  for f in $$(sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/p' "$$file"); do \
	    echo "== $$dir $$f"; $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) "$$dir" </dev/null; \
	  done; \
	done

# `make test` covers ./... and so the fault suite too; CI keeps the fuzzers
# alive at 10 s each; run `make fuzz` for longer sessions.
ci: lint test test-conductor bench-quick ## what .ci/run calls
	$(MAKE) fuzz FUZZTIME=10s
