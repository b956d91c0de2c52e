# vessl-secrets. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
BUF := node_modules/.bin/buf
STAMP := node_modules/.installed

.PHONY: help up test build generate checkgenerate lint breaking bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(STAMP)

dist/.built: $(STAMP) tsconfig.json $(shell find services cli -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
	npx tsc -p tsconfig.json
	@touch dist/.built

build: dist/.built ## Install dependencies if needed and compile TypeScript to dist/

up: build ## Run the whole system on the embedded default (SQLite, local jobs) in the foreground
	node bin/vessl-secrets.js up

test: build ## Run every test (unit, storage on SQLite and PostgreSQL, end-to-end), after lint and codegen checks
	$(MAKE) --no-print-directory lint checkgenerate
	npx mocha

generate: $(STAMP) ## Regenerate TypeScript from proto/ (output is committed) and the reflection descriptor set
	$(BUF) generate
	$(BUF) build -o services/gen/descriptors.binpb

checkgenerate: ## Fail when the committed generated code differs from what proto/ generates
	@tmp=$$(mktemp -d) && cp -r services/gen $$tmp/before && $(MAKE) --no-print-directory generate >/dev/null && \
	if ! diff -r $$tmp/before services/gen >/dev/null; then \
	  echo "generated code is stale: run 'make generate' and commit services/gen"; diff -rq $$tmp/before services/gen; rm -rf $$tmp; exit 1; fi; \
	rm -rf $$tmp; echo "generated code matches proto/"

lint: $(STAMP) ## Lint protos (buf STANDARD) and TypeScript (eslint), check proto format, type-check everything
	$(BUF) lint
	$(BUF) format --diff --exit-code
	npx eslint .
	npx tsc -p tsconfig.test.json

breaking: $(STAMP) ## Check proto changes against main's previous commit for breaking changes
	@if git rev-parse -q --verify HEAD~1 >/dev/null; then $(BUF) breaking --against '.git#ref=HEAD~1'; \
	else echo "no previous commit to compare against"; fi

bench: build ## Run the benchmarks (figures as ratios to same-run baselines)
	npm run bench

clean: ## Remove build output
	rm -rf dist
