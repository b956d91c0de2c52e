# vessl-secrets. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
BUF := node_modules/.bin/buf
STAMP := node_modules/.installed

.PHONY: help up install pack-cli test soak build generate checkgenerate lint breaking bench clean deploy-check kube-control-plane

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(STAMP)

# tsc compiles services/ and cli/; vesslctl runs from an esbuild bundle of cli/ (dist/vesslctl/).
dist/.built: $(STAMP) tsconfig.json scripts/build-cli.ts $(shell find services cli -name '*.ts' -not -name '*.test.ts' 2>/dev/null)
	npx tsc -p tsconfig.json
	node --import tsx scripts/build-cli.ts
	@touch dist/.built

# The web console (vite build of web/ into web/dist), served by `vessl-secrets up`. It bundles the
# server's field rules (secrets, jobs and workspaces: one source for the browser's checks), so a change to them rebuilds it.
WEB_SHARED_SOURCES := services/secret-store/rules.ts services/runtime/sealed-value.ts services/job-launcher/rules.ts services/job-launcher/workspaces/rules.ts services/runtime/secret-file-paths.ts
web/dist/index.html: $(STAMP) $(shell find web -path web/dist -prune -o -type f -print 2>/dev/null) $(shell find services/gen -name '*.ts' 2>/dev/null) $(WEB_SHARED_SOURCES)
	npx vite build web

build: dist/.built web/dist/index.html ## Install dependencies if needed, compile TypeScript to dist/, bundle vesslctl and build the web console to web/dist/

up: build ## Run the whole system on the embedded default (SQLite, local jobs in a bubblewrap sandbox) in the foreground
	scripts/ensure-bubblewrap.sh
	node bin/vessl-secrets.js up

# Where `make install` puts vesslctl: $(PREFIX)/bin/vesslctl (npm's global layout under PREFIX).
PREFIX ?= $(HOME)/.local

pack-cli: build ## Pack vesslctl as an npm package of its own (dist/vesslctl-VERSION.tgz; no dependencies)
	node --import tsx scripts/pack-cli.ts

install: build ## Install vesslctl into $(PREFIX)/bin (default ~/.local/bin; PREFIX=/usr/local as root), from its packed tarball
	@tarball=$$(node --import tsx scripts/pack-cli.ts) && npm install --global --offline --no-audit --no-fund --prefix "$(PREFIX)" "$$tarball" >/dev/null && \
	echo "vesslctl installed: $(PREFIX)/bin/vesslctl ($$("$(PREFIX)/bin/vesslctl" --version))" && \
	case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; *) echo "add $(PREFIX)/bin to PATH, e.g. export PATH=\"$(PREFIX)/bin:\$$PATH\"";; esac

test: build ## Run every test (unit, storage on SQLite and PostgreSQL, end-to-end, the PKCS#11 provider on SoftHSM2, Kubernetes on a real API server), after lint and codegen checks
	scripts/ensure-python-deps.sh
	scripts/ensure-bubblewrap.sh
	scripts/ensure-softhsm.sh
	scripts/ensure-shells.sh
	scripts/kube-control-plane.sh build
	$(MAKE) --no-print-directory lint breaking checkgenerate
	npx mocha

# Counts for `make soak` (override on the command line: make soak SOAK_KILLS=100).
SOAK_SEQUENCES ?= 2000
SOAK_KILLS ?= 30
SOAK_RACES ?= 30
SOAK_MALFORMED ?= 20000
CHAOS_TESTS := test/model-based.test.ts test/crash-chaos.test.ts test/races.test.ts test/malformed-traffic.test.ts

soak: build ## Run the chaos suites (model-based, crash, races, malformed traffic) with large counts; seeds via VESSL_*_SEED
	VESSL_FC_RUNS=$(SOAK_SEQUENCES) VESSL_CRASH_KILLS=$(SOAK_KILLS) VESSL_RACE_ROUNDS=$(SOAK_RACES) VESSL_MALFORMED_MESSAGES=$(SOAK_MALFORMED) \
	  npx mocha --no-config --node-option import=tsx --reporter ./test/support/reporter.js --exit --timeout 0 $(CHAOS_TESTS)

generate: $(STAMP) ## Regenerate TypeScript (services/gen) and Python (clients/python/gen) from proto/ (output is committed) and the reflection descriptor set
	$(BUF) generate
	$(BUF) build -o services/gen/descriptors.binpb
	@scripts/ensure-python-deps.sh
	$(BUF) generate --template buf.gen.python.yaml

checkgenerate: ## Fail when the committed generated code differs from what proto/ generates
	@tmp=$$(mktemp -d) && cp -r services/gen $$tmp/ts && cp -r clients/python/gen $$tmp/py && \
	$(MAKE) --no-print-directory generate >/dev/null && \
	if ! diff -r $$tmp/ts services/gen >/dev/null || ! diff -r -x __pycache__ $$tmp/py clients/python/gen >/dev/null; then \
	  echo "generated code is stale: run 'make generate' and commit services/gen and clients/python/gen"; \
	  diff -rq $$tmp/ts services/gen; diff -rq -x __pycache__ $$tmp/py clients/python/gen; rm -rf $$tmp; exit 1; fi; \
	rm -rf $$tmp; echo "generated code matches proto/"

lint: $(STAMP) ## Lint protos (buf STANDARD) and TypeScript (eslint), check proto format, type-check everything, check the shell scripts parse
	@if git grep -nE '^(<<<<<<<|>>>>>>>) ' -- . ; then echo 'unresolved merge conflict markers (above)'; exit 1; fi
	@for f in .ci/run scripts/*.sh; do bash -n "$$f" || exit 1; done
	$(BUF) lint
	$(BUF) format --diff --exit-code
	npx eslint .
	npx tsc -p tsconfig.test.json
	npx tsc -p web/tsconfig.json

breaking: $(STAMP) ## Check the protos against main's previous commit for breaking changes (buf FILE rules)
	@if git rev-parse -q --verify HEAD~1 >/dev/null 2>&1; then $(BUF) breaking --against '.git#ref=HEAD~1' && echo "no breaking proto changes since HEAD~1"; \
	else echo "no previous commit to compare against"; fi

deploy-check: $(STAMP) kube-control-plane ## Render deploy/ (base and every overlay) with kubectl kustomize, check it against the Kubernetes schemas and the deploy rules, and dry-run it on a real API server (also part of make test)
	npx mocha --no-config --node-option import=tsx --timeout 60000 --exit test/deploy.test.ts

kube-control-plane: ## Build (once per machine, cached in ~/.cache/vessl-secrets) the Kubernetes v1.20.2 control plane the tests run against
	scripts/kube-control-plane.sh build

bench: build ## Run the benchmarks (figures as ratios to same-run baselines)
	npm run bench

clean: ## Remove build output
	rm -rf dist web/dist
