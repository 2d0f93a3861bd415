# The verbs people use. `make demo` and `make test` install what they need on a fresh clone.
PY_BOOT ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
TAO_CORE_VERSION := 7.3.0

.PHONY: venv engines demo test lint schemas check-schemas check bench bench-quality package clean

venv: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PY_BOOT) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first and pinned: an unpinned torch (direct or transitive) pulls a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[all,test]'
	# TAO Core's configs only need omegaconf; its declared dependencies are heavy
	$(PIP) install -q --no-deps nvidia-tao-core==$(TAO_CORE_VERSION)
	# the declared dependency floors, as wheels: tests install them offline into fresh virtual environments
	$(PY) -m devtools.floors --out $(VENV)/wheelhouse
	touch $(STAMP)

# engines the cluster tests start on loopback: PostgreSQL's server from Debian's packages (root; Ray comes with venv)
engines: $(STAMP)
	$(PY) -m devtools.engines --install

demo: $(STAMP)
	$(PY) -m devtools.demo

test: $(STAMP)
	$(PY) -m pytest -q tests

lint: $(STAMP)
	$(PY) -m ruff check tao_skill devtools optical_inspection tests benchmarks

schemas: $(STAMP)
	$(PY) -m tao_skill.schema_gen

check-schemas: $(STAMP)
	$(PY) -m tao_skill.schema_gen --check -q

check: lint check-schemas
	$(PY) -m devtools.packaging --check

bench: $(STAMP)
	$(PY) -m benchmarks

# defect-finding quality on real PCB crops (../shared/data/deeppcb, or QUALITY_ARGS=--data DIR) and synthetic data
bench-quality: $(STAMP)
	$(PY) -m benchmarks.quality --json benchmarks/quality.json $(QUALITY_ARGS)

package: $(STAMP)
	$(PY) -m devtools.packaging --out dist

clean:
	rm -rf build dist *.egg-info .pytest_cache .ruff_cache
