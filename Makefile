# Shopify order → warehouse → fulfillment backend. See README.md.
GO       ?= go
BIN      ?= bin/handler
PKGS     ?= ./...
export CGO_ENABLED ?= 0

.PHONY: all build demo test test-short run sandbox package bench fuzz fuzz-seeds vet fmt generate cosmos-deps clean

all: build

build: ## build bin/handler for this machine
	$(GO) build -trimpath -o $(BIN) ./cmd/handler

demo: build ## run the whole flow once against the simulators and print a report
	$(GO) run ./cmd/demo --handler $(BIN)

test: cosmos-deps ## the full suite (what CI runs)
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 15m $(PKGS)

test-short: ## the suite without -race and the slow process tests
	$(GO) test -short -count=1 $(PKGS)

run: build ## the long-running service, settings from local.settings.json / the environment
	./$(BIN) serve

sandbox: ## the Shopify and warehouse SIMULATORS on 7081/7082, for `make run` with local.settings.json.example
	$(GO) run ./cmd/sandbox

package: ## dist/functionapp.zip: linux/amd64 static handler + host.json + function folders
	./deploy/package.sh

bench: build ## intake and dispatch benchmark (see README, "Performance")
	$(GO) run ./bench --handler $(BIN)

fuzz: ## run every fuzz target for FUZZTIME each (default 30s)
	./scripts/fuzz.sh $${FUZZTIME:-30s}

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

generate: ## regenerate the typed Shopify GraphQL client (genqlient)
	$(GO) generate ./internal/shopify/...

cosmos-deps: ## npm packages of the Cosmos DB test server (tools/cosmos-server)
	@command -v npm >/dev/null || { echo "npm is required for the Cosmos DB tests (apt-get install nodejs npm)"; exit 1; }
	@test -d tools/cosmos-server/node_modules/@vercel/cosmosdb-server || (cd tools/cosmos-server && npm ci --no-audit --no-fund)

clean:
	rm -rf bin dist
