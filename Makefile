GO      ?= go
BIN     := bin/stackctl
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null | head -1 | grep . || echo dev)
COMMIT  ?= $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
# The commit's date, as the releases stamp it (.goreleaser.yaml).
DATE    ?= $(shell TZ=UTC git log -1 --date=format-local:%Y-%m-%dT%H:%M:%SZ --format=%cd 2>/dev/null)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
# Build and test with the Go release go.mod names (it has the security
# fixes govulncheck asks for); go fetches it from the module proxy.
export GOTOOLCHAIN := $(shell sed -n 's/^toolchain //p' go.mod)

.PHONY: build install-plugin test unit prereqs vault lint fuzz vuln bench demo update clean e2e-cluster release-check

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/stackctl

# The same binary as a docker CLI plugin: `docker stackctl ...` (named
# docker-stackctl in the folder the docker CLI reads its plugins from).
PLUGIN_DIR ?= $(or $(DOCKER_CONFIG),$(HOME)/.docker)/cli-plugins
install-plugin: build
	mkdir -p '$(PLUGIN_DIR)'
	install -m 0755 $(BIN) '$(PLUGIN_DIR)/docker-stackctl' # a new file: a running plugin keeps the old one

# Everything CI runs: formatting, vet, every test with the race detector
# (the end-to-end ones, build tag e2e, against the local swarm and a
# three-node one), each fuzz target for a bounded time, and govulncheck.
# It installs what the tests need, or fails saying what is missing.
# The Vault store tests get the server .ci/vault built as STACKCTL_VAULT;
# the action's tests download from release-check's snapshot (STACKCTL_DIST).
test: lint prereqs vault release-check
	vault=$$(GO=$(GO) .ci/vault) && STACKCTL_VAULT=$$vault STACKCTL_DIST=$(CURDIR)/dist $(GO) test -race -count=1 -tags e2e -timeout 40m ./...
	$(MAKE) fuzz
	$(MAKE) vuln

# The fast tier: every test that needs no Docker engine, no root and no
# network (flags, loading, planning, the orchestrators against a fake
# engine, SOPS), in about a minute. No end-to-end helper is compiled.
unit:
	$(GO) test -count=1 ./...

prereqs:
	.ci/prereqs
	.ci/ensure-engine

# A Vault 1.14.1 server (MPL) built from the module proxy into the cache
# folder, once (a few minutes); .ci/vault prints its path.
vault:
	GO=$(GO) .ci/vault

# The release without publishing it: goreleaser check, a snapshot of every
# build, archive and checksums.txt into dist/ (dist/release: the files as a
# release holds them), checked with sha256sum -c, and actionlint over
# .github/workflows. goreleaser v2 and actionlint are built from the module
# proxy once into ~/.cache/stackctl/bin (.ci/tools).
release-check:
	GO=$(GO) .ci/release-check

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags e2e ./...

# Each fuzz target for a number of executions, about 10 s each here
# (go test -fuzz takes one target per run). A count, not a duration: with a
# duration, Go before 1.27 can fail a clean run with "context deadline
# exceeded" as the time runs out (go.dev/issue/75804). Seed corpora also
# run as plain tests under go test ./...
# Fuzzing pauses while a new input is minimized, by default for up to 60s:
# with kilobyte SOPS seeds that is the whole minute, so cap it.
FUZZSCALE ?= 1
FUZZMINIMIZETIME ?= 5s
fuzz-target = $(GO) test -run '^$$' -fuzzminimizetime $(FUZZMINIMIZETIME) -fuzztime $$(( $(2) * $(FUZZSCALE) ))x -fuzz '^$(1)$$' $(3)
fuzz:
	$(call fuzz-target,FuzzParseKeyPath,40000,./compose)
	$(call fuzz-target,FuzzUseVersions,20000,./compose)
	$(call fuzz-target,FuzzRead,6000,./sopsbridge)
	$(call fuzz-target,FuzzIsEncrypted,5000,./sopsbridge)

# Known vulnerabilities in the code stackctl calls, against an offline
# database that .ci/vulndb builds from the module proxy (vuln.go.dev may be
# unreachable); .ci/vulncheck lists the daemon-side advisories it ignores.
vuln:
	GO=$(GO) .ci/vulncheck

# Benchmarks, with stackctl and the docker CLI side by side where both
# apply. LeanVsDocker prints the table of start time, memory, size and an
# unchanged redeploy, as ratios to the docker CLI.
bench: prereqs
	$(GO) test -tags e2e -run '^$$' -bench LeanVsDocker -benchtime 1x ./cmd/stackctl
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 5x ./compose ./sopsbridge ./rotate
	$(GO) test -tags e2e -run '^$$' -bench RenderVsDockerStackConfig -benchtime 5x ./cmd/stackctl
	$(GO) test -tags e2e -run '^$$' -bench DeployVsDocker -benchtime 1x -timeout 30m ./cmd/stackctl
	$(GO) test -tags e2e -run '^$$' -bench Scale100 -benchtime 1x -timeout 30m ./cmd/stackctl

# Rewrite golden files and fixtures under testdata/.
update:
	$(GO) test ./rotate -run 'Golden|BenchFixture' -update
	$(GO) test ./compose -run TestValidate -update

# The main job on a fresh machine: a Docker engine in swarm mode, stackctl,
# and the quickstart stack deployed, changed and deployed again.
demo: build
	.ci/ensure-engine
	examples/quickstart/demo.sh

# End-to-end fault tests on a three-node swarm on this machine (.ci/cluster).
e2e-cluster:
	$(GO) test -tags e2e -count=1 -run TestCluster -v ./cmd/stackctl

clean:
	rm -rf bin dist
