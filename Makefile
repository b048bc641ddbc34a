GO      ?= go
BIN     := bin/stackctl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null | head -1 | grep . || echo dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test lint bench demo update clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stackctl

# Everything CI runs: formatting, vet, and every test with the race detector.
test: lint
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Benchmarks, with stackctl and the docker CLI side by side where both apply.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 5x ./compose ./sopsbridge ./rotate
	$(GO) test -run '^$$' -bench RenderVsDockerStackConfig -benchtime 5x ./cmd/stackctl
	$(GO) test -run '^$$' -bench DeployVsDocker -benchtime 1x -timeout 30m ./cmd/stackctl

# Rewrite golden files and fixtures under testdata/.
update:
	$(GO) test ./rotate -run 'Golden|BenchFixture' -update

# The main job on a fresh machine: a Docker engine in swarm mode, stackctl,
# and the quickstart stack deployed, changed and deployed again.
demo: build
	.ci/ensure-engine
	examples/quickstart/demo.sh

clean:
	rm -rf bin
