# Two commands do all the set-up on a fresh machine:
#   make demo   create .venv, install picd, encode+decode every file in samples/, print a table
#   make test   same set-up, then the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.picd-installed

.PHONY: demo test test-all bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# the CPU wheel: a looser pin would pull a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m picd.demo samples -o out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

# DjVu baselines need DjVuLibre (Debian's djvulibre-bin); the bench skips them with a notice if absent.
bench: $(STAMP)
	-command -v c44 >/dev/null || apt-get install -y -q djvulibre-bin >/dev/null 2>&1 || true
	$(BIN)/picd bench samples -o out/bench -j 2

clean:
	rm -rf out .pytest_cache
