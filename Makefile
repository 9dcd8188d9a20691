# spa: the two commands a fresh machine needs are `make test` and `make demo`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
SETTINGS ?= settings.yaml
export SPA_VENV := $(abspath $(VENV))

TEMPLATES ?= target/templates
SPA := cargo run --quiet -p spa --

.PHONY: test demo venv fmt lint unit validate templates package-tools package package-check package-size package-test clean-venv
.PHONY: fuzz fuzz-smoke benchmarks resilience

## make venv: the Python tools the tests need (moto server, cfn-lint), pinned, in .venv
venv: $(VENV)/.installed
$(VENV)/.installed: scripts/requirements-test.txt scripts/requirements-lint.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt -r scripts/requirements-lint.txt
	touch $@

## make test: formatting, lints, every test (unit, emulator-backed, features), the shipped settings
## and their templates (cfn-lint), one real Lambda package (x86_64, dev profile).
## The fuzz targets' checks run in `unit` (engine/core/tests/core/fuzz_targets.rs: seeds, regressions,
## mutated seeds, a few seconds each); cargo-fuzz itself runs in `make fuzz` (an instrumented
## build of its own, with cargo-fuzz installed first: minutes that every CI run would pay)
test: venv fmt lint unit validate package-check
# the spa binary `unit` built, with the features of the workspace's tests: `cargo run -p
# spa` would build the SDK crates again with another feature set (minutes on 2 cores)
test: SPA := target/debug/spa

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings

unit: venv
	cargo test --workspace --no-fail-fast

## make resilience: the lifecycle of 1,000 accounts on moto through the fault proxy
## (10% throttled, 5% server errors): as delivered, every event twice shuffled, and
## twice shuffled by two racing workers (about 18 minutes each in a debug build on 2
## cores); then 1,000 accounts on the memory ports, each delivery killed before one
## of its steps and delivered again; SPA_SEED to replay
resilience: venv
	cargo test --workspace --test local -- --ignored --nocapture resilience::
	cargo test --workspace --lib -- --ignored --nocapture crashes::

## make validate: the shipped settings, and the CloudFormation templates they synthesize, linted
validate: venv
	$(SPA) validate --settings $(SETTINGS)
	$(synth-and-lint)

## make templates: `spa synth` into $(TEMPLATES), cfn-lint with zero errors
templates: venv
	$(synth-and-lint)

define synth-and-lint
$(SPA) synth --settings $(SETTINGS) --out $(TEMPLATES)
$(VENV)/bin/cfn-lint $(TEMPLATES)/*.json
@echo "cfn-lint: every template of $(TEMPLATES) passes"
endef

## make package-tools: cargo-lambda (PyPI, prebuilt with zig) in .venv, for `spa package`
package-tools: $(VENV)/.package-tools
$(VENV)/.package-tools: scripts/requirements-package.txt | venv
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-package.txt
	touch $@

## make package: the Lambda zip for ARCH (arm64 or x86_64) in target/lambda
ARCH ?= arm64
package: package-tools
	$(SPA) package --arch $(ARCH) --out target/lambda

## make package-check: one real cross build (x86_64, dev profile: minutes) and its zip checked
package-check: package-tools
	cargo test --workspace --test cli -- --ignored package::x86_64_package_holds_an_x86_64_bootstrap

## make package-size: the deployed build (lambda-release profile, x86_64: about 20 min) and its
## bootstrap's size checked against issue 15's limit (15,000,000 bytes)
package-size: package-tools
	SPA_PACKAGE_PROFILE=lambda-release cargo test --workspace --test cli -- --ignored package::x86_64_package_holds_an_x86_64_bootstrap

## make package-test: build both architectures with cargo-lambda (dev profile) and check each zip's bootstrap
package-test: package-tools
	cargo test --workspace --test cli -- --ignored package::

## make demo: the main job end to end against the emulator
demo: venv
	scripts/demo.sh $(SETTINGS)

clean-venv:
	rm -rf $(VENV)

## make fuzz: every cargo-fuzz target (fuzz/) for FUZZ_SECONDS each (cargo-fuzz pinned, in .tools/)
FUZZ_SECONDS ?= 300
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

## make fuzz-smoke: the same, 10 seconds each (the instrumented build is most of its time)
fuzz-smoke:
	FUZZ_SECONDS=10 scripts/fuzz.sh

## make benchmarks: every bench of the workspace, figures written to BENCHMARKS.md
benchmarks: venv
	scripts/benchmarks.sh BENCHMARKS.md
