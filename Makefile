# calico-vpp build entry points. Every target works on a fresh machine as
# root: missing system packages are installed by hack/install-deps.sh.

GO        ?= go
BIN       := bin
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/calico-vpp/calico-vpp/pkg/version.Version=$(VERSION)
GOFLAGS_BUILD := -trimpath -ldflags '$(LDFLAGS)'
export CGO_ENABLED ?= 0

# The product's binaries; a missing one fails the build.
BINARIES := vpp-manager calico-vpp-agent calivppctl calico-vpp-cni felix-proxy

.PHONY: all build test test-unit bench lint images demo deps clean fuzz tools yaml

all: build

build:
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do \
		$(GO) build $(GOFLAGS_BUILD) -o $(BIN)/$$b ./cmd/$$b || exit 1; \
	done
	$(GO) build -o $(BIN)/fakevpp ./test/fakevpp/cmd/fakevpp

deps:
	@bash hack/install-deps.sh

# test runs everything CI runs: lint, then every test (privileged ones
# included when run as root). It installs missing system packages first.
# Tests start fakevpp and the node's binaries from bin/ (VPP_BINARY=/path/to/vpp
# runs them against a real VPP 25.10 instead).
test: deps lint build tools
	FAKEVPP_BINARY=$(CURDIR)/$(BIN)/fakevpp CALICOVPP_NODE_BINARIES=$(CURDIR)/$(BIN) \
		VPP_MANAGER_BINARY=$(CURDIR)/$(BIN)/vpp-manager $(GO) test -count=1 -timeout 40m ./...

# tools builds the real components the end-to-end tests run (etcd,
# kube-apiserver, kube-controller-manager, kubectl, cnitool, host-local,
# Calico's CNI plugin and calico-ipam) from their Go modules; about 15 minutes the first time on 2 cores, then
# reused (test/tools/bin, and Go's build cache).
tools:
	@bash hack/build-tools.sh

# yaml regenerates yaml/base/configmap.yaml and yaml/generated/*.yaml (a
# test fails when they are out of date).
yaml: tools
	bash hack/gen-yaml.sh

.PHONY: bin/fakevpp
bin/fakevpp:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/fakevpp ./test/fakevpp/cmd/fakevpp

test-unit:
	$(GO) test -count=1 -short ./...

bench: bin/fakevpp
	FAKEVPP_BINARY=$(CURDIR)/bin/fakevpp $(GO) test -run '^$$' -bench . -benchtime 1x ./...

fuzz:
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzInterfaces -fuzztime 30s
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzInitialConfig -fuzztime 30s
	$(GO) test ./pkg/config -run '^$$' -fuzz FuzzFeatureGatesAndDebug -fuzztime 30s

lint:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# images builds both images, tagged with the git version and as latest (the
# tag yaml/ refers to).
images:
	docker build --target agent -t calico-vpp/agent:$(VERSION) -t calico-vpp/agent:latest --build-arg VERSION=$(VERSION) .
	docker build --target vpp -t calico-vpp/vpp:$(VERSION) -t calico-vpp/vpp:latest --build-arg VERSION=$(VERSION) .

# demo is the main job: a two-node cluster in network namespaces (control
# plane, vpp-manager + VPP + agent per node, pods through Calico's CNI
# plugin), what kubectl and calivppctl show, then up until Ctrl-C and torn
# down. DEMO_WAIT=false tears down right after printing (scripted runs).
# It is the test binary of test/demo, so the harness's teardown always runs.
DEMO_WAIT ?= true
demo: deps tools build
	$(GO) test -c -o $(BIN)/demo.test ./test/demo
	cd test/demo && FAKEVPP_BINARY=$(CURDIR)/$(BIN)/fakevpp CALICOVPP_NODE_BINARIES=$(CURDIR)/$(BIN) $(CURDIR)/$(BIN)/demo.test \
		-test.run '^TestDemo$$' -test.timeout 0 -demo.wait=$(DEMO_WAIT)

clean:
	rm -rf $(BIN)
