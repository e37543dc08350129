# steplab: every target sets up its own environment first (a .venv made with pip; no conda needed).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.steplab-installed
EXTRAS := notebooks,app,test,diffusers
NBVAL  := --nbval-lax --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider

.PHONY: env test lint unit nbtest lab dashboard bench notebooks browser-deps clean

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[$(EXTRAS)]"
	touch $(STAMP)

## make test: lint, unit and app tests, then every notebook under nbval (the README's test command)
test: env browser-deps lint unit nbtest

lint: env
	$(PY) -m ruff check lib tests tools benchmarks $(wildcard app.py app_pages)
	$(PY) tools/nbbuild.py --check

unit: env
	MPLBACKEND=agg $(PY) -m pytest tests -q

nbtest: env
	MPLBACKEND=agg $(PY) -m pytest $(NBVAL) notebooks -q

## Debian's chromium for the browser test (only when missing and we are root; otherwise that test skips)
browser-deps:
	@command -v chromium >/dev/null 2>&1 || [ "$$(id -u)" != "0" ] || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
	  echo "could not install chromium: the browser test will be skipped"

lab: env
	$(PY) -m ipykernel install --user --name steplab --display-name "Python (steplab)"
	$(PY) -m jupyter lab notebooks/

dashboard: env
	@if [ -f app.py ]; then $(PY) -m streamlit run app.py; else echo "dashboard not built yet"; fi

bench: env
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

## Re-execute the notebooks from notebooks/src and store them with outputs
notebooks: env
	$(PY) tools/nbbuild.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache artifacts
