# Flume: build, test, run and benchmark.
GO ?= go

.PHONY: all build test test-hdfs vet run bench proto proto-check fmt minihdfs

all: build

# The daemons are static binaries: no cgo, no libc to find on the machine that runs them.
build:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race ./...

# The embedded default: a master and a node in one process on loopback, data under ./data,
# running the demo flow (an access log parsed and printed as JSON). Stop with Ctrl-C.
run: build
	bin/flumed dev

# Pipeline throughput, one pipeline per child process (see BENCHMARKS.md).
bench:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/flumebench ./cmd/flumed
	bin/flumebench

# The HDFS backend against a real cluster: FLUME_TEST_HDFS=hdfs://host:8020/tmp/flume-test
# make test-hdfs (skipped when unset; HADOOP_CONF_DIR and HADOOP_USER_NAME are read).
test-hdfs:
	$(GO) test -count=1 -run 'TestRealCluster' -v ./collector/hdfs/

# The project's test HDFS (internal/minihdfs) as a process: bin/minihdfs -dir DIR prints the
# NameNode address; the client's CLI talks to it with HADOOP_NAMENODE=that address.
minihdfs:
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/minihdfs

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

# Protobuf: buf and the protoc plugins are Go tools pinned in tools/go.mod, kept out of the
# main module. `proto` formats, lints and regenerates the committed code under proto/;
# `proto-check` (run by CI) regenerates into a temporary directory and fails if the committed
# code is not what the .proto files give.
BUF = $(GO) tool -modfile=tools/go.mod buf

proto:
	$(BUF) format -w
	$(BUF) lint
	$(BUF) generate

proto-check:
	@set -eu; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(BUF) format --diff --exit-code || { echo "proto-check: .proto files are not formatted; run 'make proto'" >&2; exit 1; }; \
	$(BUF) lint; \
	$(BUF) generate -o "$$tmp/generated"; \
	mkdir -p "$$tmp/generated/proto" "$$tmp/committed/proto"; \
	find proto -name '*.pb.go' -exec cp --parents {} "$$tmp/committed/" \; ; \
	if ! diff -ruN "$$tmp/committed/proto" "$$tmp/generated/proto"; then \
		echo "proto-check: the generated code under proto/ does not match the .proto files; run 'make proto' and commit the result" >&2; \
		exit 1; \
	fi; \
	echo "proto-check: generated code is up to date"
