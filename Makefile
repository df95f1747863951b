# baychain: every entry point installs what it needs first (a fresh machine is fine).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/.tools/bin:$(PATH):/usr/local/go/bin:$(HOME)/.cargo/bin
NATIVE := native/pyproject.toml native/Cargo.toml native/Cargo.lock native/.cargo/config.toml $(wildcard native/src/*.rs)
export PYTHONHASHSEED := 0

.PHONY: install cometbft system test test-fast test-slow dev demo bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)

install: $(VENV)/.installed

# native/ (Rust, built by maturin through pip) first: baychain verifies signatures with it.
$(VENV)/.installed: pyproject.toml $(NATIVE) | $(BIN)/python
	@command -v cargo >/dev/null || { echo "make install: cargo (Rust) not found on PATH or in $(HOME)/.cargo/bin;" \
		"baychain's native module (native/) needs it: install Rust from rustup.rs or Debian's cargo package" >&2; exit 1; }
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q ./native
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

# The pinned CometBFT binary (go install) and the Python protobuf modules generated
# from that release's own .proto files.
cometbft: install
	bash scripts/install-cometbft.sh
	$(BIN)/python -m baychain.abci.protogen

# System tools the tests use (the openssl command line), from Debian's packages.
system:
	bash scripts/install-system.sh

# The full suite, slow multi-process and multi-node tests included (what CI runs).
# Every tool is installed first, so a missing one fails its tests instead of skipping them.
test: install cometbft system
	BAYCHAIN_REQUIRE_TOOLS=1 $(BIN)/python -m pytest -q

test-fast: install
	$(BIN)/python -m pytest -q -m "not slow"

test-slow: install cometbft system
	BAYCHAIN_REQUIRE_TOOLS=1 $(BIN)/python -m pytest -q -m slow

dev: install
	$(BIN)/baychain dev

demo: install
	-bash scripts/install-cometbft.sh && $(BIN)/python -m baychain.abci.protogen
	$(BIN)/baychain demo

bench: install
	$(BIN)/python bench/bench_solo.py

clean:
	rm -rf $(VENV) .tools .baychain native/target
