# Portcullis: two commands on a fresh machine (Go, Debian, root, no Docker):
#   make run    start the local system (Postgres under ./.data, control plane, two gateways, demo backend and seed)
#   make test   every test, against real Postgres and NATS that the tests start themselves
# `make help` lists the other targets.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO       ?= go
PG_MAJOR ?= 15
# Two packages at a time: integration tests each start a Postgres cluster and the CI machine
# has two cores. Override with `make test GOTEST_P=4`.
GOTEST_P ?= 2
GOTEST_TIMEOUT ?= 20m
GOTEST_FLAGS ?=

# `go test ./...` does not work at the root of a go.work workspace (the root is not a module),
# so every command runs over "<module dir>/..." for each module listed in go.work.
MODULE_DIRS = $(shell $(GO) list -m -f '{{.Dir}}')
PKGS = $(addsuffix /...,$(MODULE_DIRS))

.PHONY: help
help: ## list targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: prereqs
prereqs: ## check prerequisites and install what is missing (Postgres server binaries)
	@command -v $(GO) >/dev/null || { echo "error: Go is not installed (https://go.dev/dl/)"; exit 1; }
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || [ -n "$${PORTCULLIS_PG_BINDIR:-}" ]; then \
		echo "prereqs: Postgres server binaries found"; \
	else \
		echo "prereqs: Postgres server binaries missing: installing postgresql-$(PG_MAJOR)"; \
		SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo"; \
		$$SUDO mkdir -p /etc/postgresql-common; \
		echo "create_main_cluster = false" | $$SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null; \
		$$SUDO apt-get update -qq; \
		$$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-$(PG_MAJOR); \
	fi
	@if [ "$$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then \
		echo "prereqs: creating the 'postgres' OS user (initdb refuses to run as root)"; \
		useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres; \
	fi

.PHONY: lint
lint: ## check formatting (gofmt) of every Go file
	@unformatted="$$(find . -name '*.go' -not -path './.git/*' -not -path './.data/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi; \
	echo "lint: gofmt ok"

.PHONY: vet
vet: ## go vet every workspace module
	$(GO) vet $(PKGS)

.PHONY: test
test: lint prereqs vet ## lint, install prerequisites, vet, then run every test in every module
	$(GO) test -count=1 -p $(GOTEST_P) -timeout $(GOTEST_TIMEOUT) $(GOTEST_FLAGS) $(PKGS)

.PHONY: run
run: prereqs ## start Postgres, dev issuer and CA, control plane, demo backend, two gateways; seed demo data (Ctrl-C stops all)
	@# Built then exec'd rather than `go run`: no intermediate process that would swallow
	@# SIGTERM or turn a clean Ctrl-C shutdown into an error exit.
	@mkdir -p ./.data/bin
	$(GO) build -o ./.data/bin/portcullis-dev ./cmd/portcullis-dev
	exec ./.data/bin/portcullis-dev

.PHONY: build
build: ## build every command into ./bin
	@mkdir -p bin
	@mains="$$($(GO) list -f '{{if eq .Name "main"}}{{.ImportPath}}{{end}}' $(PKGS) 2>/dev/null)"; \
	if [ -z "$$mains" ]; then echo "build: no commands found"; exit 0; fi; \
	echo "$$mains" | sed 's/^/build: /'; \
	$(GO) build -o ./bin/ $$mains

.PHONY: bench
bench: ## run the benchmarks in ./bench
	@if [ -z "$$(find bench -name '*_test.go' 2>/dev/null | head -1)" ]; then \
		echo "bench: no benchmarks yet (./bench has no *_test.go files)"; \
	else \
		$(GO) test -run '^$$' -bench . -benchmem ./bench/...; \
	fi

.PHONY: clean
clean: ## remove ./bin and ./.data (local Postgres data, keys, dev CA, NATS store); stop `make run` first
	rm -rf ./bin ./.data
