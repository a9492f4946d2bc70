# Two commands for a fresh machine (see README): `make run` and `make test`; `make test-fast` while editing the domain.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps bytecode test test-fast lint unit run bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian packages the tests run for real: promtool/prometheus, amtool (prometheus-alertmanager),
# docker-compose v1 (validates the compose file without an engine), chromium (renders the Temporal
# web UI with payloads decoded by the codec server) and PostgreSQL 15 (the end-to-end suite runs on it
# too; the tests start their own server with initdb/pg_ctl), and for the pages: Pango (WeasyPrint's
# PDFs) and Noto CJK (Chinese text in the pages, PDFs and screenshots; without it, empty boxes).
# Installed once; root or sudo needed on a fresh machine.
SYSTEM_TOOLS := promtool prometheus amtool docker-compose chromium /usr/lib/postgresql/15/bin/initdb
SYSTEM_FILES := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
system-deps:
	@missing=; for tool in $(SYSTEM_TOOLS); do command -v $$tool >/dev/null || missing=1; done; \
	for file in $(SYSTEM_FILES); do test -e $$file || missing=1; done; \
	ls /usr/lib/*/libpangoft2-1.0.so.0 >/dev/null 2>&1 || missing=1; \
	if [ -n "$$missing" ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
			prometheus prometheus-alertmanager docker-compose chromium postgresql \
			fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 >/dev/null; \
	fi

# The workflow sandbox imports the workflow modules again for every workflow run (a replay after a
# cache eviction included). Without bytecode on disk, as under PYTHONDONTWRITEBYTECODE=1, each of
# those imports compiles the source: ~3 ms per replay (bench/replay.py). The image gets bytecode
# from pip install; the editable checkout gets it here, fresh for the current sources.
bytecode: setup
	$(BIN)/python -m compileall -q sla workflows

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

unit: setup system-deps bytecode
	$(BIN)/pytest -q

# The test command: lint, types, then every test (the README and .ci/run call this).
test: lint unit

# The domain tier alone (tests/domain, see tests/README.md): pure sla/ tests, in seconds; needs no
# Temporal, no database server and no Debian packages.
test-fast: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q tests/domain

run: setup bytecode
	$(BIN)/slatrack up

bench: setup
	$(BIN)/python -m bench.calendar
	$(BIN)/python -m bench.worker_memory
	$(BIN)/python -m bench.replay

# The pages as a person sees them (README): a whole stack, the requests of tests/data.py, Debian's
# chromium through Playwright; PNGs into docs/screenshots/.
screenshots: setup system-deps bytecode
	$(BIN)/python -m tools.screenshots
	$(BIN)/python -m tools.report_screenshots

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
