# Progressive Overload — the one entry point.
#   make run    build and run every service natively against local MariaDB, Redis, RabbitMQ
#   make test   every module's tests with -race, integration tests against the real services
# `make help` lists the rest.

SHELL := /bin/bash
.DEFAULT_GOAL := help
GO ?= go
# Every Go module of the workspace; `go test` takes them as one package list.
MODULES := ent services/kit services/account services/challenge hack
PKGS := $(addprefix ./,$(addsuffix /...,$(MODULES)))
STATICCHECK_VERSION := v0.8.2
OAPI_CODEGEN_VERSION := v2.8.2
# The OpenAPI linter (its recommended rules, no errors allowed); npx fetches it
# once into the npm cache under ~/.cache.
REDOCLY_CLI_VERSION := 2.77.0
SPECS := services/account/api/openapi.yaml services/challenge/api/openapi.yaml
# Test timeout for the whole suite; CI has 90 minutes, the suite should need a few.
TEST_TIMEOUT ?= 10m

-include hack/make/*.mk

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## make sure MariaDB, Redis, RabbitMQ answer locally (started, as containers, or installed: see docs/operations.md)
	@hack/scripts/ensure-deps.sh

# make test also needs the programs its Redis Cluster and RabbitMQ cluster tests run.
.PHONY: test-deps
test-deps:
	@hack/scripts/ensure-deps.sh --test

.PHONY: build
build: ## build the service binaries into bin/
	@mkdir -p bin
	$(GO) build -trimpath -o bin/ ./services/account/cmd/account ./services/challenge/cmd/challenge

.PHONY: run
run: deps build ## run the whole system locally (Ctrl-C stops it)
	@hack/scripts/run.sh

.PHONY: test
test: test-deps ## run every module's tests with -race against MariaDB, Redis, RabbitMQ (set up by make deps)
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

.PHONY: lint
lint: ## gofmt, go vet, staticcheck, import direction, OpenAPI lint on every module
	@unformatted=$$(gofmt -l $(MODULES)); if [ -n "$$unformatted" ]; then echo "gofmt would change:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	$(GO) run ./hack/cmd/importcheck $(PKGS)
	$(MAKE) --no-print-directory spec-lint

.PHONY: spec-lint
spec-lint: ## both OpenAPI specs against Redocly's recommended rules (warnings allowed, errors not)
	npm_config_cache=$(HOME)/.cache/po-tools/npm npx --yes @redocly/cli@$(REDOCLY_CLI_VERSION) lint \
	  --extends recommended --format stylish $(SPECS)

.PHONY: gen
gen: ## regenerate ent code, versioned migrations (needs local MariaDB) and OpenAPI server code
	cd ent && $(GO) generate ./...
	cd services/account && $(GO) generate ./...
	cd services/challenge && $(GO) generate ./...

.PHONY: gen-check
gen-check: deps gen ## fail when regenerating changes committed code
	@if ! git diff --exit-code --stat -- ent services; then echo "generated code is stale: run 'make gen' and commit"; exit 1; fi
	@untracked=$$(git ls-files --others --exclude-standard -- ent services); if [ -n "$$untracked" ]; then echo "make gen created files that are not committed:"; echo "$$untracked"; exit 1; fi

.PHONY: clean
clean: ## remove built binaries, local dev state (.dev/) and the dev containers make deps created
	rm -rf bin .dev
	@hack/scripts/ensure-deps.sh clean
