# iamsentry — the front door. `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO        ?= go
LISTEN    ?= :50051
ADMIN_LISTEN ?= :9090
FUZZTIME  ?= 30s
BENCHTIME ?= 1s
# Pinned tool versions, run through the Go toolchain (no downloaded binaries).
GRPCURL_VERSION := v1.9.4
GRPCURL   := github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
BENCHSTAT := golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

include make/proto.mk
include make/noise.mk

.PHONY: help build run geoip test test-short soak lint vet fmt fuzz bench bench-go bench-load bench-latency bench-realistic bench-redis-bill bench-serve bench-e2e tools redis clean fluentbit-plugin otelcol interop

# HELP_VARS are the make variables the rule lines name, e.g. LISTEN for
# $(LISTEN): help hands their values to awk, which puts them into the text,
# so `make help LISTEN=:6000` shows what `make run LISTEN=:6000` would do.
HELP_VARS := $(sort $(shell grep -ho '^[a-zA-Z0-9_-]*:.*' $(MAKEFILE_LIST) | grep -o '[$$]([A-Z0-9_]*)' | tr -d '$$()'))

help: ## Show this help
	@$(foreach v,$(HELP_VARS),$(v)='$($(v))') awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / { \
		text = $$2; \
		while (match(text, /\$$\([A-Z0-9_]+\)/)) \
			text = substr(text, 1, RSTART - 1) ENVIRON[substr(text, RSTART + 2, RLENGTH - 3)] substr(text, RSTART + RLENGTH); \
		printf "  \033[36m%-16s\033[0m %s\n", $$1, text }' $(MAKEFILE_LIST)

build: ## Build bin/iamsentry
	$(GO) build -trimpath -o bin/iamsentry ./cmd/iamsentry

# The Fluent Bit output plugin is its own module (cgo): a C shared object
# Fluent Bit loads with `plugins:` in its YAML configuration.
fluentbit-plugin: ## Build bin/iamsentry-fluentbit.so, the Fluent Bit output plugin (needs gcc)
	cd clients/fluentbit && GOFLAGS=-mod=mod CGO_ENABLED=1 $(GO) build -trimpath -buildmode=c-shared -o ../../bin/iamsentry-fluentbit.so .

run: build ## Build, then serve on $(LISTEN) (admin: /metrics, /healthz, /readyz on $(ADMIN_LISTEN)) with the embedded state store
	exec bin/iamsentry serve --listen '$(LISTEN)' --admin-listen '$(ADMIN_LISTEN)'

# RACETEST_USERS is a go list template printing a package whose tests
# import internal/racetest, i.e. hold a test that skips itself under -race.
RACETEST := github.com/iamsentry/iamsentry/internal/racetest
RACETEST_USERS := {{$$p := .ImportPath}}{{range .TestImports}}{{if eq . "$(RACETEST)"}}{{println $$p}}{{end}}{{end}}{{range .XTestImports}}{{if eq . "$(RACETEST)"}}{{println $$p}}{{end}}{{end}}

# test builds bin/iamsentry and bin/grpcurl first, outside any test's
# timeout: from an empty build cache they take minutes, and the end-to-end
# tests run them. The per-package timeout catches a hang, not slowness: on
# a 2-core machine at load average 25 internal/benign took 12.7 minutes
# under -race, so it is generous.
test: redis build tools ## Run every test (unit, conformance on memory and real Redis, end-to-end with grpcurl, the Fluent Bit plugin)
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	@# Tests that score a month on one goroutine skip themselves under -race
	@# (internal/racetest): the packages whose tests import racetest run again
	@# here without it, so every test runs on every make test.
	$(GO) test -count=1 -timeout 20m $$($(GO) list -f '$(RACETEST_USERS)' ./... | sort -u)
	@# The plugin module follows the main one through a replace directive; -mod=mod
	@# lets it pick up the main module's requirements as they change.
	cd clients/fluentbit && GOFLAGS=-mod=mod $(GO) vet ./... && GOFLAGS=-mod=mod $(GO) test -race -count=1 ./...
	cd deploy && GOFLAGS=-mod=mod $(GO) vet ./... && GOFLAGS=-mod=mod $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory fluentbit-plugin

# GEOIP_DIR is where make geoip writes; empty means iamsentry's default path
# ($IAMSENTRY_GEOIP_DIR, else ~/.local/share/iamsentry/geoip).
GEOIP_DIR ?=

geoip: build ## Fetch the free GeoIP country and ASN databases (ip-location-db, pinned) that serve and scan use by default
	bin/iamsentry geoip update $(if $(GEOIP_DIR),--dir '$(GEOIP_DIR)')

test-short: redis ## Run the unit tests only (skips end-to-end tests)
	$(GO) test -short -count=1 ./...

SOAK_COUNT ?= 50

soak: redis ## Run the concurrency tests $(SOAK_COUNT) times in a row (recon pairs split across concurrent batches, memory and real Redis), then the month-long realistic corpus on every store with 1, 4 and 16 streams
	$(GO) test -race -count=$(SOAK_COUNT) -run 'ConcurrentBatches' ./internal/consistency/
	IAMSENTRY_FULL_CORPUS=1 $(GO) test -race -count=1 -timeout 120m -run 'RealisticCorpusAcrossStoresAndStreams' ./internal/consistency/

lint: buf-lint vet ## Lint: buf lint, go vet, gofmt
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [[ -n "$$unformatted" ]]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi

vet: ## go vet
	$(GO) vet ./...

fuzz: ## Run each fuzz target for $(FUZZTIME)
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "== $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

bench: bench-go bench-load bench-latency bench-e2e ## Run the Go benchmarks, then the load generator against real servers

bench-go: redis ## Go benchmarks (6 counts each, summarised by benchstat)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count 6 ./... | tee bench.txt
	$(GO) run $(BENCHSTAT) bench.txt

# bench-realistic runs only the benchmarks on internal/realcorpus's month of
# a realistic account: `scan` end to end and the engine on the embedded store,
# in events per CPU-second (bench-go runs them too, among all the others).
REALISTIC_COUNT ?= 5
bench-realistic: ## Realistic-corpus benchmarks only (scan end to end, engine on memory; events/CPU-s), $(REALISTIC_COUNT) counts, benchstat medians
	$(GO) test -run '^$$' -bench 'Realistic' -benchtime 1x -count $(REALISTIC_COUNT) -timeout 30m ./engine ./internal/cli | tee bench-realistic.out
	$(GO) run $(BENCHSTAT) bench-realistic.out

# bench-redis-bill replays internal/realcorpus's month through the engine on
# a real redis-server and reads what Redis charges per event (INFO
# commandstats, INFO cpu, MEMORY USAGE); see docs/performance.md.
REDIS_BILL_COUNT ?= 3
bench-redis-bill: redis ## Redis bill on the realistic corpus: commands, Redis CPU µs and bytes per identity, $(REDIS_BILL_COUNT) counts, benchstat medians
	$(GO) test -run '^$$' -bench 'RedisBillRealistic' -benchtime 1x -count $(REDIS_BILL_COUNT) -timeout 30m ./engine | tee bench-redis-bill.out
	$(GO) run $(BENCHSTAT) bench-redis-bill.out

# bench-serve runs the server's own benchmarks: the realistic month over
# gRPC on the embedded store (events per CPU-second, allocations per event)
# and one-event requests (the per-request cost the open loop pays). Compare
# a change with `benchstat old.out bench-serve.out`; the allocation counts
# are what noise on a shared machine cannot move.
SERVE_COUNT ?= 3
bench-serve: ## Server benchmarks only (BenchmarkServeRealistic, BenchmarkServeSmallRequests), $(SERVE_COUNT) counts, benchstat medians
	$(GO) test -run '^$$' -bench 'BenchmarkServe(Realistic|SmallRequests)$$' -benchtime 1x -count $(SERVE_COUNT) -timeout 30m ./server | tee bench-serve.out
	$(GO) run $(BENCHSTAT) bench-serve.out

LOAD_EVENTS ?= 200000
bench-load: build redis ## Load generator: $(LOAD_EVENTS) generated records to a spawned server, embedded store then Redis
	$(GO) run ./cmd/loadgen --spawn bin/iamsentry --events $(LOAD_EVENTS)
	$(GO) run ./cmd/loadgen --spawn bin/iamsentry --with-redis --events $(LOAD_EVENTS)

# bench-latency prints the load average before each run: the machine is
# shared, and a figure means little without what ran beside it.
LATENCY_RATES    ?= 1000 5000 20000
LATENCY_DURATION ?= 10s
LATENCY_RUNS     ?= 3
# LATENCY_SERVE_ARGS go to every spawned serve, e.g. --batch-workers 4 or
# --trace /tmp/serve.trace (see docs/performance.md#latency-at-a-fixed-rate).
LATENCY_SERVE_ARGS ?=
bench-latency: build redis ## Open-loop latency: $(LATENCY_RATES) events/s for $(LATENCY_DURATION) each, embedded store then Redis, $(LATENCY_RUNS) runs (take medians)
	$(GO) build -o bin/loadgen ./cmd/loadgen
	for run in $$(seq $(LATENCY_RUNS)); do \
		for rate in $(LATENCY_RATES); do \
			for redis in "" --with-redis; do \
				echo "run $$run, load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
				bin/loadgen --spawn bin/iamsentry $$redis --rate $$rate --duration $(LATENCY_DURATION) --serve-args '$(LATENCY_SERVE_ARGS)'; \
			done; \
		done; \
	done

# bench-e2e sends internal/realcorpus's month over gRPC to a spawned server,
# closed loop, embedded store then Redis, E2E_RUNS times (take medians):
# events/s, events per server CPU-second, loadgen's own CPU, and on Redis the
# commands and Redis CPU µs per event. Client, server and redis-server share
# the machine; the load average is printed before each run.
E2E_RUNS ?= 3
bench-e2e: build redis ## End to end on the realistic corpus: loadgen --corpus realistic, embedded store then Redis, $(E2E_RUNS) runs (take medians)
	$(GO) build -o bin/loadgen ./cmd/loadgen
	for run in $$(seq $(E2E_RUNS)); do \
		for redis in "" --with-redis; do \
			echo "run $$run, load average $$(cut -d' ' -f1-3 /proc/loadavg)"; \
			bin/loadgen --spawn bin/iamsentry $$redis --corpus realistic; \
		done; \
	done

# The OpenTelemetry Collector is built with its builder (ocb) from
# clients/otelcol/builder.yaml; the first build takes minutes (about 8 on
# two busy cores), later ones are skipped while the manifest is unchanged.
otelcol: ## Build bin/otelcol-iamsentry, an OpenTelemetry Collector (filelog, batch, otlp, bearertokenauth) from clients/otelcol/builder.yaml
	clients/otelcol/build.sh

# interop is not part of test: the Collector's first build is too slow for it.
interop: build otelcol ## Interop test: the real Collector ships CloudTrail JSON lines to serve over OTLP/gRPC with TLS and a bearer token
	$(GO) test -tags interop -count=1 -timeout 10m -v -run 'Collector' ./clients/otelcol/

redis: ## Install redis-server and redis-cli when missing (tests start their own servers)
	scripts/ensure-redis.sh

# grpcurl prints the version its main.version holds; go install leaves it
# "dev build <no version set>" unless the linker sets it.
tools: ## Build the pinned helper tools into bin/ (grpcurl $(GRPCURL_VERSION)); add bin/ to PATH to call them by name
	GOBIN=$(CURDIR)/bin $(GO) install -ldflags '-X main.version=$(GRPCURL_VERSION)' $(GRPCURL)

clean: ## Remove build output
	rm -rf bin bench.txt
