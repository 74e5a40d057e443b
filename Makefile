VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
export GOTOOLCHAIN ?= go1.26.10
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

.PHONY: build test lint demo bench e2e load fuzz vulncheck clean

build:
	go build -trimpath -ldflags "$(LDFLAGS)" -o bin/vectord ./cmd/vectord
	go build -trimpath -o bin/vectorsim ./cmd/vectorsim

test:
	scripts/test.sh

lint:
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
	go vet ./...

demo:
	go run ./cmd/vectord demo

bench: build
	scripts/bench-download.sh

e2e:
	eval "$$(scripts/s3server.sh start)"; trap 'scripts/s3server.sh stop' EXIT; go test -race -count=1 ./e2e/ ./cmd/vectord/

load:
	scripts/load.sh

fuzz:
	scripts/fuzz.sh 30

vulncheck:
	scripts/vulncheck.sh

clean:
	rm -rf bin

# install builds nothing: `sudo make install` would otherwise build as root,
# with root's Go caches, and leave root-owned files in bin/. Run make build
# first, as yourself (install.sh says so if bin/vectord is missing).
.PHONY: install
install:
	scripts/install.sh
