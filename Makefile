# National PKI core: the two commands of the README contract.
#   make demo   run the main job end to end on the embedded defaults
#   make test   run every test, clippy and the conformance suite
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
VAR   ?= $(CURDIR)/var

# System packages (Debian names). The demo runs on SoftHSM2 and SQLite, so
# it needs no database server; the tests also start PostgreSQL, unpack
# zstd fixtures, check the alert rules with promtool (package prometheus),
# run the documented nginx cache in front of two responders, make a
# Python venv for schemathesis (validation-api/tests/contract.rs), and
# run the docs' commands (ca-tools/tests/docs.rs: sqlite3 for the upgrade
# steps of docs/operations.md).
DEMO_APT_PACKAGES := softhsm2 openssl curl bc
TEST_APT_PACKAGES := $(DEMO_APT_PACKAGES) zstd postgresql prometheus nginx python3-venv sqlite3

# Fuzzing: seconds per target, and the targets (fuzz/fuzz_targets/).
FUZZ_SECS    ?= 60
FUZZ_TARGETS := cert_validate crl ocsp_request ocsp_response api_request ceremony_toml csr
# cargo-fuzz asks rustc for nightly-only flags; RUSTC_BOOTSTRAP lets the
# stable toolchain accept them. No sanitizer: the crates forbid unsafe
# code, and stable has no ASan runtime; libFuzzer's coverage is enough.
FUZZ_CARGO   := RUSTC_BOOTSTRAP=1 $(CARGO) fuzz
FUZZ_FLAGS   := --sanitizer none

.PHONY: help deps deps-demo deps-test build test lint demo bench soak fuzz fmt clean-var

help:
	@echo "make demo   - generate a sample hierarchy under ./var/demo and validate it"
	@echo "make test   - install what tests need, run all tests + clippy"
	@echo "make bench  - run the criterion benches (long)"
	@echo "make fuzz   - run every cargo fuzz target FUZZ_SECS seconds (default 60)"
	@echo "make soak   - OCSP + validation soak with revocations (SOAK_SECS, default 600)"

## Install missing system packages (apt, as root); say what to do otherwise.
## deps-demo: what `make demo` needs; deps-test (and deps): everything.
deps: deps-test

deps-demo:
	@./scripts/apt-deps.sh $(DEMO_APT_PACKAGES)
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

deps-test:
	@./scripts/apt-deps.sh $(TEST_APT_PACKAGES)
	@command -v cargo >/dev/null || { echo "cargo not found: install Rust from https://rustup.rs"; exit 1; }

build: deps
	$(CARGO) build --workspace --all-targets

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test: deps-test
	./scripts/deploy-check.sh
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  $(CARGO) nextest run --workspace --no-fail-fast && \
	  $(CARGO) test --doc --workspace; \
	else \
	  echo "cargo-nextest not found, using cargo test"; \
	  $(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) fmt --all -- --check

demo: deps-demo
	$(CARGO) build --release -p ca-tools
	VAR=$(VAR) ./scripts/demo.sh
	$(CARGO) build --release -p validation-api
	VAR=$(VAR) ./scripts/demo-api.sh
	$(CARGO) build --release -p ocsp-responder
	VAR=$(VAR) ./scripts/demo-ocsp.sh

bench: deps
	$(CARGO) bench -p benches

## Long-running soak on 127.0.0.1 (SOAK_SECS, default 600): benches/soak/run.sh
soak: deps
	SOAK_SECS=$${SOAK_SECS:-600} ./benches/soak/run.sh

## Fixtures and seeds of the fuzz targets, made with the test CA builder;
## kept while the generator is unchanged, so the corpus stays valid.
fuzz/fixtures/root.der: pki-core/examples/fuzz_seeds.rs examples/ceremony/*.toml
	$(CARGO) run -q -p pki-core --features test-ca --example fuzz_seeds -- fuzz

## Builds every target once, then runs each for FUZZ_SECS seconds (the
## binaries themselves, as `cargo fuzz run` would, without rebuilding in
## between); new inputs go to fuzz/corpus/<target>, crashes to
## fuzz/artifacts/<target>, libFuzzer's output to fuzz/logs.
FUZZ_BIN := fuzz/target/x86_64-unknown-linux-gnu/release
fuzz: fuzz/fixtures/root.der
	@$(CARGO) fuzz --version >/dev/null 2>&1 || $(CARGO) install --locked cargo-fuzz
	$(FUZZ_CARGO) build $(FUZZ_FLAGS)
	@mkdir -p fuzz/logs; failed=0; \
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/artifacts/$$t; \
	  if RUST_BACKTRACE=1 $(FUZZ_BIN)/$$t -artifact_prefix=fuzz/artifacts/$$t/ \
	       -max_total_time=$(FUZZ_SECS) -timeout=10 -print_final_stats=1 \
	       fuzz/corpus/$$t fuzz/seeds/$$t >fuzz/logs/$$t.log 2>&1; then \
	    result="no crash"; \
	  else \
	    result="CRASH: fuzz/logs/$$t.log, input in fuzz/artifacts/$$t/"; failed=1; \
	  fi; \
	  execs=$$(sed -n 's/^stat::number_of_executed_units: *//p' fuzz/logs/$$t.log | tail -n1); \
	  execs=$${execs:-$$(sed -n 's/^#\([0-9]*\).*/\1/p' fuzz/logs/$$t.log | tail -n1)}; \
	  printf '%-14s %12s executions in %ss  %s\n' $$t "$${execs:-?}" $(FUZZ_SECS) "$$result"; \
	done; \
	exit $$failed

fmt:
	$(CARGO) fmt --all

clean-var:
	rm -rf $(VAR)
