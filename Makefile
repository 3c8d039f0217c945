# Flume: build, test, run and benchmark.
GO ?= go

.PHONY: all build test vet run bench proto proto-check fmt

all: build

build:
	$(GO) build -o bin/ ./cmd/...

vet:
	$(GO) vet ./...

test: vet
	$(GO) test -race ./...

fmt:
	gofmt -w $$(git ls-files '*.go' | grep -v '\.pb\.go$$')
