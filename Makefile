# National PKI core: the two commands of the README contract.
#   make demo   run the main job end to end on the embedded defaults
#   make test   run every test, clippy and the conformance suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
VAR   ?= $(CURDIR)/var

# System packages the tests and the demo need (Debian names).
APT_PACKAGES := softhsm2 openssl zstd postgresql

.PHONY: help deps build test lint demo bench fmt clean-var

help:
	@echo "make demo   - generate a sample hierarchy under ./var/demo and validate it"
	@echo "make test   - install what tests need, run all tests + clippy"
	@echo "make bench  - run the criterion benches (long)"

## Install missing system packages (apt, as root); say what to do otherwise.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else \
	    echo "missing system packages:$$missing"; \
	    echo "install them with: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

build: deps
	$(CARGO) build --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast && \
	  $(CARGO) test --doc --workspace; \
	else \
	  echo "cargo-nextest not found, using cargo test"; \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check

demo: deps
	$(CARGO) build --release -p ca-tools
	VAR=$(VAR) ./scripts/demo.sh
	$(CARGO) build --release -p validation-api
	VAR=$(VAR) ./scripts/demo-api.sh
	$(CARGO) build --release -p ocsp-responder
	VAR=$(VAR) ./scripts/demo-ocsp.sh

bench: deps
	$(CARGO) bench -p benches

fmt:
	$(CARGO) fmt --all

clean-var:
	rm -rf $(VAR)
