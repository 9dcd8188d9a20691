# spa: the two commands a fresh machine needs are `make test` and `make demo`.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
SETTINGS ?= settings.yaml
export SPA_VENV := $(abspath $(VENV))

.PHONY: test demo venv fmt lint unit validate clean-venv

## make venv: the Python tools the tests need (moto server), pinned, in .venv
venv: $(VENV)/.installed
$(VENV)/.installed: scripts/requirements-test.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
	touch $@

## make test: formatting, lints, every test (unit, emulator-backed, features), the shipped settings
test: venv fmt lint unit validate

fmt:
	cargo fmt --all -- --check

lint:
	cargo clippy --workspace --all-targets -- -D warnings

unit: venv
	cargo test --workspace --no-fail-fast

validate:
	cargo run --quiet -p spa-deploy --bin spa -- validate --settings $(SETTINGS)

## make demo: the main job end to end against the emulator
demo: venv
	scripts/demo.sh $(SETTINGS)

clean-venv:
	rm -rf $(VENV)
