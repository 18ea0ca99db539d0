# Two commands on a fresh machine: `make run` (the demo on SQLite) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BIND   ?= 127.0.0.1:8000

.PHONY: run test lint install clean chaos

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/wardsync db upgrade
	$(BIN)/wardsync demo
	WARDSYNC_SESSION_COOKIE_SECURE=0 $(BIN)/wardsync serve --bind $(BIND)

# Both cores: pytest-xdist, work-stealing so the long model and end-to-end tests do not
# leave one worker idle at the end. The wall time is printed at the end.
XDIST ?= -n 2 --dist worksteal

test: $(STAMP)
	$(BIN)/ruff check .
	@start=$$(date +%s); status=0; $(BIN)/pytest $(XDIST) $(PYTEST_ARGS) || status=$$?; \
	echo "Suite wall time: $$(( $$(date +%s) - start )) s"; exit $$status

# The chaos suite at full size (tests/chaos; the normal suite runs a bounded form of it): 300
# phones through a lossy proxy while gunicorn workers are killed, PostgreSQL is restarted and
# SQLite's disk fills up. One scenario at a time, so each one's figures are its own; they are
# printed at the end. The full-disk scenario mounts a tmpfs (root only; skipped otherwise).
chaos: $(STAMP)
	@start=$$(date +%s); status=0; \
	WARDSYNC_CHAOS_SCALE=full $(BIN)/pytest tests/chaos -rfEsxX $(PYTEST_ARGS) \
	  || status=$$?; echo "Chaos wall time: $$(( $$(date +%s) - start )) s"; exit $$status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
