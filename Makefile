# vipd — see README.md.
GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build test unit lab demo lint fuzz install clean

all: build

build:
	mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...

# The whole suite: unit tests, then the network-namespace lab (needs root;
# without root the lab tests skip, unless VIPD_REQUIRE_NETNS=1).
test: build
	$(GO) vet ./...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -count=1 ./e2e/

unit:
	$(GO) test -count=1 -short ./pkg/...

# A three-node lab: elect, cut the master's link, watch the VIP move.
demo: build
	./scripts/demo.sh

lint:
	$(GO) vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	test -x $(STATICCHECK) || $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2
	$(STATICCHECK) ./...

FUZZTIME ?= 60s
fuzz:
	$(GO) test -run='^$$' -fuzz=FuzzUnmarshal -fuzztime=$(FUZZTIME) ./pkg/vrrp/

install: build
	install -D -m 0755 bin/vipd $(DESTDIR)$(PREFIX)/sbin/vipd
	for b in bin/*; do [ "$$b" = bin/vipd ] || install -D -m 0755 $$b $(DESTDIR)$(PREFIX)/bin/$${b#bin/}; done
	install -D -m 0644 systemd/vipd.service $(DESTDIR)/etc/systemd/system/vipd.service
	test -e $(DESTDIR)/etc/vipd/vipd.toml || install -D -m 0644 configs/vipd.toml $(DESTDIR)/etc/vipd/vipd.toml

clean:
	rm -rf bin
