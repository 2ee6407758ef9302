# Xinyi — run a bare `make` for the list of targets.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
DEMO_DIR ?= $(CURDIR)/xinyi-data

.DEFAULT_GOAL := help

.PHONY: help
help: ## print the targets with one line each
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build the one binary into ./bin/xinyi
	$(GO) build -o $(BIN)/xinyi ./cmd/xinyi

$(BIN)/minio:
	@echo "installing MinIO $(MINIO_VERSION) into ./bin (a few minutes the first time)"
	GOBIN=$(BIN) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

.PHONY: tools
tools: $(BIN)/minio ## install the tools the tests use (MinIO into ./bin, Debian's Chromium, the report font and poppler)
	@bash scripts/chromium.sh
	@bash scripts/report-tools.sh

.PHONY: services
services: ## make sure PostgreSQL and Redis are running on their standard local ports
	@bash scripts/services.sh

.PHONY: test
test: tools services ## run every test against real MinIO, PostgreSQL and Redis
	$(GO) vet ./...
	XINYI_MINIO_BIN=$(BIN)/minio XINYI_ARTIFACTS=$(CURDIR)/out/artifacts $(GO) test -count=1 -timeout 40m ./...

.PHONY: bench-tools
bench-tools: ## install the benchmark peers (Debian's XGBoost 1.7.4, numpy, pandas, scikit-learn)
	@bash scripts/bench-tools.sh

.PHONY: bench
bench: tools services bench-tools ## run the Go benchmarks and the side-by-side peer comparisons
	XINYI_MINIO_BIN=$(BIN)/minio $(GO) test -run '^$$' -bench . -benchmem -timeout 60m ./...
	XINYI_SCALE=1 XINYI_MINIO_BIN=$(BIN)/minio $(GO) test -count=1 -run '^TestCluster$$' -v -timeout 60m ./cmd/xinyi
	@set -e; for s in bench/*.sh; do bash "$$s"; done

.PHONY: bench-load
bench-load: build $(BIN)/vegeta ## serving latency under open-loop load (vegeta), SQLite and PostgreSQL (DURATION, RUNS, RATES, DBS)
	@bash scripts/bench-load.sh

$(BIN)/vegeta:
	GOBIN=$(BIN) $(GO) install github.com/tsenart/vegeta/v12@v12.13.0

.PHONY: bench-duckdb
bench-duckdb: ## materialization vs DuckDB on a generated 120,000-company universe (cgo; slow first build)
	@test -d /tmp/xinyi-gen120k/raw || $(GO) run ./cmd/xinyi generate --companies 120000 --months 36 --seed 1 --out /tmp/xinyi-gen120k
	cd bench/features && $(GO) run . -dir /tmp/xinyi-gen120k

.PHONY: bench-ingest
bench-ingest: ## department CSV to visible Parquet (tax, 1.34M corrections of 36 stored months) vs DuckDB's COPY (cgo; slow first build)
	cd bench/ingest && $(GO) run . -dir /tmp/xinyi-ingest-bench

.PHONY: fuzz
fuzz: ## run every fuzz target for a short while (FUZZTIME=30s by default)
	@bash scripts/fuzz.sh $${FUZZTIME:-30s}

.PHONY: demo
demo: build ## run the platform end to end on embedded defaults into ./xinyi-data
	@bash scripts/demo.sh "$(BIN)/xinyi" "$(DEMO_DIR)"

.PHONY: demo-info
demo-info: ## print the URLs and keys of the demo again (saved in <DEMO_DIR>/.xinyi/demo-info.txt)
	@if [ -f "$(DEMO_DIR)/.xinyi/demo-info.txt" ]; then cat "$(DEMO_DIR)/.xinyi/demo-info.txt"; else echo "no demo in $(DEMO_DIR); run make demo" >&2; exit 1; fi

.PHONY: demo-stop
demo-stop: ## stop the server that make demo left running
	@if [ -f "$(DEMO_DIR)/.xinyi/serve.pid" ]; then kill "$$(cat $(DEMO_DIR)/.xinyi/serve.pid)" 2>/dev/null && echo "stopped"; rm -f "$(DEMO_DIR)/.xinyi/serve.pid"; else echo "no demo server running"; fi

.PHONY: cluster-demo
cluster-demo: build $(BIN)/minio ## run 3 workers and 2 servers over MinIO (4 drives), PostgreSQL and Redis on loopback (CLUSTER_DIR)
	@bash scripts/cluster-demo.sh "$(BIN)/xinyi" "$(BIN)/minio"

.PHONY: cluster-demo-stop
cluster-demo-stop: ## stop what make cluster-demo started
	@bash scripts/cluster-stop.sh "$${CLUSTER_DIR:-$(CURDIR)/xinyi-cluster}"

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12

$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2

.PHONY: generate
generate: $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## regenerate checked-in generated code (protobuf)
	@command -v protoc >/dev/null || apt-get -o DPkg::Lock::Timeout=600 install -y -qq protobuf-compiler >/dev/null
	$(GO) generate ./...

.PHONY: clean
clean: ## remove build outputs and the demo data (keeps ./bin/minio)
	rm -rf $(BIN)/xinyi $(DEMO_DIR)
