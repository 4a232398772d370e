# One entry point for each habit. CI calls the same targets.
GO ?= go
PKGS := ./...

.PHONY: run build test lint generate check-generate bench bench-go fuzz

## run: the portal on the demo tenant (Graph emulator, demo sign-in, SQLite under ./data)
run:
	@echo "Building and starting the demo. The first build compiles the Microsoft Graph SDK: about 3 minutes, once; later runs start in seconds."
	$(GO) run ./cmd/portal dev

## build: a static binary in bin/portal; TAGS=nodemo leaves the demo tenant out (the container image does)
build:
	CGO_ENABLED=0 $(GO) build -tags '$(TAGS)' -trimpath -ldflags="-s -w" -o bin/portal ./cmd/portal

## test: every test, with the race detector
test:
	$(GO) test -race -count=1 $(TESTFLAGS) $(PKGS)

## lint: formatting, vet, staticcheck, and generated code up to date
lint: check-generate
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '_templ.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) build -tags nodemo -o /dev/null ./cmd/portal
	$(GO) tool staticcheck $(PKGS)

## generate: templ components
generate:
	$(GO) tool templ generate -path web/templates

## check-generate: fail if the committed templ output is stale
check-generate: generate
	@git diff --exit-code --stat -- web/templates || (echo "templ output is stale: run make generate and commit"; exit 1)

## fuzz: each fuzz target for FUZZTIME inputs (default 30000x). A count, not a duration: a
## duration can end in a spurious "context deadline exceeded" from Go's fuzzing coordinator.
FUZZTIME ?= 30000x
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzPortalSearchFilter$$' -fuzztime $(FUZZTIME) ./internal/graph/graphemu
	$(GO) test -run '^$$' -fuzz '^FuzzParseFilter$$' -fuzztime $(FUZZTIME) ./internal/graph/graphemu
	$(GO) test -run '^$$' -fuzz '^FuzzParseIssue$$' -fuzztime $(FUZZTIME) ./internal/handlers
	$(GO) test -run '^$$' -fuzz '^FuzzCSVCell$$' -fuzztime $(FUZZTIME) ./internal/handlers
	$(GO) test -run '^$$' -fuzz '^FuzzRecordedText$$' -fuzztime $(FUZZTIME) ./internal/issuance

## bench: the performance table (needs wrk; PORTAL_TEST_POSTGRES_DSN adds PostgreSQL); BENCHFLAGS go to cmd/bench
bench:
	CGO_ENABLED=0 $(GO) build -tags nodemo -trimpath -ldflags="-s -w" -o bin/portal-nodemo ./cmd/portal
	$(GO) run ./cmd/bench -portal bin/portal-nodemo $(BENCHFLAGS)

## bench-go: every Go benchmark
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
