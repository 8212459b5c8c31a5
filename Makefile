# vipd — see README.md.
GO        ?= go
PREFIX    ?= /usr/local
DESTDIR   ?=
SBINDIR   ?= $(PREFIX)/sbin
BINDIR    ?= $(PREFIX)/bin
MANDIR    ?= $(PREFIX)/share/man
UNITDIR   ?= /etc/systemd/system
# The date of the last commit: manual pages, package and image carry it,
# so that the same commit builds the same bytes.
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 1)
export SOURCE_DATE_EPOCH
# Where make man, make deb and make image write, and for which
# architectures (linux/ARCH); DEB_ARCH is the package's.
DOCDIR    ?= build/doc
DEB_OUT   ?= build
DEB_ARCH  ?= $(shell $(GO) env GOARCH)
IMAGE_OUT ?= build/image
ARCHES    ?= amd64 arm64
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# vipd speaks HTTP/1.1 only (checks, metrics, control API): without
# net/http's bundled HTTP/2 the binary, most of the daemon's memory, is
# 0.5 MiB smaller.
TAGS      := nethttpomithttp2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: all build cross man deb image test unit lab demo lint fuzz install clean

all: build

# bin/vipd-bgp is vipd with GoBGP (the bgp tag), for announce = "bgp":
# GoBGP adds 7 MiB to the binary, which the plain VRRP build leaves out.
build:
	mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/ ./cmd/...
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(TAGS) bgp' -ldflags '$(LDFLAGS)' -o bin/vipd-bgp ./cmd/vipd

# bin/linux-ARCH/ for each of ARCHES (or ARCHES=amd64 make cross).
cross:
	for a in $(ARCHES); do \
		mkdir -p bin/linux-$$a && \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$a $(GO) build -trimpath -tags '$(TAGS)' -ldflags '$(LDFLAGS)' -o bin/linux-$$a/ ./cmd/... || exit 1; \
	done

# The manual pages vipd(8), vipctl(8), vipd.toml(5), from the reference
# configuration and the programs' help, and the packaged vipd.toml: the
# reference with every setting commented out.
man: build
	$(GO) run ./internal/tools/gendocs -version $(VERSION) -o $(DOCDIR)

# The Debian package, $(DEB_OUT)/vipd_VERSION_ARCH.deb (dpkg-deb, no
# Debian source tree needed).
deb: man
	$(MAKE) --no-print-directory cross ARCHES=$(DEB_ARCH)
	packaging/deb/mkdeb.sh -v $(VERSION) -a $(DEB_ARCH) -b bin/linux-$(DEB_ARCH) -d $(DOCDIR) -o $(DEB_OUT)

# The container image, for linux on each of ARCHES: an OCI image layout
# in $(IMAGE_OUT) and its tar, $(IMAGE_OUT).tar (podman load, skopeo copy
# oci-archive:). Static vipd and vipctl, nothing else; built without a
# container daemon (internal/image).
image: cross
	$(GO) run ./internal/tools/mkimage -version $(VERSION) -revision "$$(git rev-parse HEAD)" \
		$(foreach a,$(ARCHES),-platform linux/$(a)=bin/linux-$(a)) -o $(IMAGE_OUT) -tar $(IMAGE_OUT).tar

# The whole suite: unit tests, then the network-namespace lab (needs root;
# without root the lab tests skip, unless VIPD_REQUIRE_NETNS=1).
# The lab gets more than go test's default 10 minutes: it took 6m20s on a
# quiet 2-core machine, and 10m52s to 14m33s with stress-ng --cpu 2 and
# other builds and labs running beside it.
test: build
	@if [ "$$(id -u)" = 0 ]; then scripts/lab-deps.sh; fi
	$(GO) vet ./...
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -count=1 -timeout 40m ./e2e/
	@if [ "$$(id -u)" != 0 ]; then echo "make test: not root, so the namespace lab tests were skipped; sudo make test runs them (and installs the tools they need)"; fi

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

# Every native fuzz target of the module, FUZZTIME each. Packages are those
# whose tests declare a Fuzz function; `go test -list` names the targets, so
# new ones are picked up. New crashers land in testdata/fuzz/FuzzX/ of the
# package: commit each, renamed after the bug, as a regression seed.
FUZZTIME ?= 2m
fuzz:
	@set -e; \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' cmd internal pkg | xargs -n1 dirname | sort -u); do \
		for target in $$($(GO) test -list '^Fuzz' ./$$dir/ | grep '^Fuzz'); do \
			echo "== ./$$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) ./$$dir/; \
		done; \
	done

# The chaos soak, long: a seeded random sequence of faults (kill -9,
# SIGSTOP, link cuts, graceful stops, drains, VIPs deleted by hand, and on
# the network frames held then sent at once, 30 % loss, one-way partitions,
# delay with reordering and duplication) against three nodes, with the VIPs
# watched every 5 ms. Needs root and nft. `make test` runs a short one;
# VIPD_CHAOS_SEED=N replays the faults of a run.
CHAOS_DURATION ?= 5m
CHAOS_TIMEOUT  ?= 30m
.PHONY: chaos
chaos:
	VIPD_REQUIRE_NETNS=1 VIPD_CHAOS_DURATION=$(CHAOS_DURATION) $(GO) test -count=1 -v -timeout=$(CHAOS_TIMEOUT) -run='^TestChaos$$' ./e2e/

# The concurrency soak, long: a vipd built with -race, three instances,
# while clients ask for status, drain, resume and reload it with
# alternating files at once. Needs root. `make test` runs a 10s one.
SOAK_DURATION ?= 60s
.PHONY: soak
soak:
	VIPD_REQUIRE_NETNS=1 VIPD_SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -v -timeout=30m -run='^TestConcurrencySoak$$' ./e2e/

# Figures that depend on the Go runtime, reported by benchmarks rather than
# asserted by tests: stack and heap of a waiting router, stacks of netlink
# callers and event waiters (root, lab), threads woken by each packet sent
# (root, lab), timerfd lateness. Without -race, which enlarges stack frames.
.PHONY: benchmarks
benchmarks:
	$(GO) test -run '^$$' -bench 'WaitingRouterMemory' -benchtime 1x ./pkg/router/
	$(GO) test -run '^$$' -bench 'Stacks' -benchtime 1x ./pkg/netif/
	$(GO) test -run '^$$' -bench 'SendWakeups' -benchtime 300x ./pkg/netif/
	$(GO) test -run '^$$' -bench 'Lateness' -benchtime 500x ./internal/hrtimer/

# vipd against keepalived 2.2.7, side by side in the namespace lab (root,
# keepalived, tcpdump, curl and ping needed). It waits up to 10 minutes for a
# load average below 1, runs for about a quarter of an hour, prints the
# table and writes bench/results.md and bench/takeover.svg.
.PHONY: bench
bench:
	VIPD_BENCH=1 VIPD_REQUIRE_NETNS=1 $(GO) test -count=1 -run '^TestBench$$' -v -timeout 60m ./bench/

# The paths agree with the package's: PREFIX=/usr installs as it does,
# except the unit, which goes to UNITDIR.
install: man
	install -D -m 0755 bin/vipd $(DESTDIR)$(SBINDIR)/vipd
	for b in bin/*; do [ ! -f "$$b" ] || [ "$$b" = bin/vipd ] || install -D -m 0755 $$b $(DESTDIR)$(BINDIR)/$${b#bin/}; done
	mkdir -p $(DESTDIR)$(UNITDIR)
	sed 's|@sbindir@|$(SBINDIR)|g' systemd/vipd.service.in > $(DESTDIR)$(UNITDIR)/vipd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/vipd.service
	for p in vipd.8 vipctl.8 vipd.toml.5; do install -D -m 0644 $(DOCDIR)/$$p $(DESTDIR)$(MANDIR)/man$${p##*.}/$$p; done
	test -e $(DESTDIR)/etc/vipd/vipd.toml || install -D -m 0644 $(DOCDIR)/vipd.toml $(DESTDIR)/etc/vipd/vipd.toml

clean:
	rm -rf bin build
