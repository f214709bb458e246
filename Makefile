# IHR API: developer entry points. `make` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

SERVICES := gateway query ingestion auth cachewarmer
BINARIES := $(SERVICES) ihrctl
# go.work's root is not a module: ./... does not cross modules, so list them.
MODULES = $(shell go list -m -f '{{.Dir}}')
PACKAGES = $(addsuffix /...,$(MODULES))
SCRIPTS = $(shell git ls-files '*.sh' .ci/run) $(wildcard scripts/db/*.sh scripts/dev/*.sh)
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/ihr_bench?sslmode=disable

.PHONY: help run stop test test-chaos fuzz build lint db-migrate db-reset docker bench bench-data bench-ingest bench-read bench-cache docs k8s-check

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## init + migrate the database, load demo data if empty, start every service
	@scripts/dev/up.sh

stop: ## stop the services started by make run
	@scripts/dev/down.sh

# -short: the long tests (tests/chaos, the 5M-row dump import, the cache's 1000 rounds) run small loads here; make test-chaos runs them at full size.
test: ## run every test (needs PostgreSQL, Redis and NATS running), then each fuzz target briefly
	go test -count=1 -short -timeout 15m $(PACKAGES)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=10s

test-chaos: ## the long tests at full size: break ingestion mid-load (kill -9, PostgreSQL cut, NATS restart, node loss, poison batch); import 5M dump rows; 1000 cache rounds
	cd tests && go test -count=1 -timeout 20m -v ./chaos
	cd tests && go test -count=1 -timeout 20m -v -run 'TestCachedEqualsUncached|TestFreshAfterPublish' ./cache
	cd services/ihrctl && go test -count=1 -timeout 20m -v -run TestImportDumps ./cmd/ihrctl

FUZZTIME ?= 60s
fuzz: ## explore the fuzz targets for FUZZTIME each (outside input: query strings, ingest messages, cache entries from Redis, e-mail tasks, answers compared with the legacy API)
	go test -run NONE -fuzz FuzzQueryString -fuzztime $(FUZZTIME) ./services/query/cmd/query
	go test -run NONE -fuzz FuzzDecodeHegemonyRows -fuzztime $(FUZZTIME) ./pkg/events
	go test -run NONE -fuzz FuzzUnmarshal -fuzztime $(FUZZTIME) ./pkg/cache
	go test -run NONE -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./services/auth/internal/mail
	go test -run NONE -fuzz FuzzCompare -fuzztime $(FUZZTIME) ./pkg/parity

build: ## build the binaries into bin/
	@mkdir -p bin
	@for b in $(BINARIES); do go build -trimpath -o bin/$$b ./services/$$b/cmd/$$b || exit 1; done
	@echo "built: $(addprefix bin/,$(BINARIES))"

lint: ## gofmt, go vet and shellcheck
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet $(PACKAGES)
	shellcheck $(sort $(SCRIPTS))

db-migrate: ## apply pending migrations to IHR_DATABASE_URL
	scripts/db/init.sh
	scripts/db/migrate.sh up

db-reset: ## drop, recreate and migrate the development database
	scripts/db/reset.sh --yes

k8s-check: ## render k8s/ (base, dev, prod) into .run/k8s/ and check it: schemas, references, probes, env, security, network policies
	cd tests/k8s && go test -count=1 . -args -render $(CURDIR)/.run/k8s
	@echo "rendered: $(addprefix .run/k8s/,base.yaml dev.yaml prod.yaml)"

docker: ## build one image per service (needs a Docker engine)
	@for s in $(BINARIES); do docker build -f deployments/Dockerfile --build-arg SERVICE=$$s -t ihr/$$s:dev . || exit 1; done

bench: bench-ingest bench-read bench-cache ## run every benchmark (figures go to docs/benchmarks.md by hand)

bench-read: build ## the five read queries of bench-queries.md: wrk vs their SQL floor via pgbench (needs make bench-data)
	scripts/bench/read.sh

bench-cache: build ## heg1d and netnum from the gateway's edge cache: wrk vs a bare net/http server of the same bytes (needs make bench-data)
	scripts/bench/cache.sh

bench-ingest: ## publish 2M hegemony rows through JetStream and compare with a plain COPY (IHR_BENCH_ROWS to change)
	cd tests && go test -tags bench -count=1 -timeout 60m -run TestBenchIngest -v ./bench

docs: ## regenerate docs/asyncapi.yaml and the dataset reference of docs/events.md from pkg/events
	cd tests && go test -count=1 -run 'TestEventsMarkdown|TestAsyncAPI' ./docs -update

bench-data: ## load the benchmark dataset into a separate database (BENCH_DATABASE_URL)
	IHR_DATABASE_URL='$(BENCH_DATABASE_URL)' scripts/db/reset.sh --yes
	psql -v ON_ERROR_STOP=1 -q '$(BENCH_DATABASE_URL)' -f ../shared/reference/bench-dataset.sql
