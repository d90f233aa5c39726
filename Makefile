# `make run` and `make test` do every set-up step themselves on a fresh machine
# (only Python >= 3.11 needed). Each step is cheap to repeat when nothing changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 5000

.PHONY: run test quick system-deps fonts lint translations db clean .venv bench-engine bench bench-curve bench-slow fuzz

# Reinstall only when pyproject.toml changes (the stamp is newer otherwise).
.venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ ! -x $(BIN)/python ]; then \
	  $(PYTHON) -m venv $(VENV) || { \
	    echo "python3 -m venv failed; installing python3-venv (Debian/Ubuntu)" >&2; \
	    apt-get update -q && apt-get install -y -q python3-venv python3-pip && \
	    rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); }; \
	fi
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	@touch $@

# Compile translations/*/LC_MESSAGES/*.po into .mo (built, never committed).
translations: $(STAMP)
	$(BIN)/prescreen translate compile

# Create instance/ and the SQLite database, or migrate it to the latest schema.
# Development mode lets the app generate instance/secret_key (0600) once.
db: $(STAMP) translations
	PRESCREEN_ENV=$${PRESCREEN_ENV:-development} $(BIN)/prescreen db init

# The development server and, beside it, the mail sender, so e-mails land in instance/mail/ at
# once; links in them point at the port being served unless PRESCREEN_PUBLIC_URL says otherwise.
run: $(STAMP) translations db fonts
	@export PRESCREEN_ENV=$${PRESCREEN_ENV:-development} \
	  PRESCREEN_PUBLIC_URL=$${PRESCREEN_PUBLIC_URL:-http://127.0.0.1:$${PORT:-5000}}; \
	$(BIN)/prescreen mail send --loop & sender=$$!; \
	trap 'kill $$sender 2>/dev/null' EXIT INT TERM; \
	$(BIN)/prescreen run --host 127.0.0.1 --port $${PORT:-5000}

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit -q -r prescreen -ll

# One pytest worker per CPU (pytest-xdist); a test file stays on one worker, so a module's
# browser and live server start once. PYTEST_WORKERS=0 runs everything in this one process.
PYTEST_WORKERS ?= auto
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS) --dist loadfile)

# The whole suite on SQLite, then again on PostgreSQL (a server the tests start themselves, as
# nobody, in a temporary folder). The second pass skips only what cannot differ by engine: tests
# that never open the app's database (the engine, the sheets, the translations, the benchmarks).
test: $(STAMP) translations lint system-deps
	$(BIN)/python -m pytest -q $(XDIST)
	PRESCREEN_TEST_ENGINE=postgresql $(BIN)/python -m pytest -q $(XDIST)

# Debian packages that the browser tests and the load benchmark drive: Chromium, a Chinese font
# (without one, Chinese renders as boxes and text metrics differ from a phone) and wrk; and the
# PostgreSQL and Redis servers the multi-node tests start (as an unprivileged user, in a temporary
# folder: tests/helpers/servers.py). Installed here, never from inside pytest; installing needs
# root, as CI and a fresh machine have.
system-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	fc-list :lang=zh 2>/dev/null | grep -q . || missing="$$missing fonts-wqy-microhei"; \
	command -v wrk >/dev/null 2>&1 || missing="$$missing wrk"; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "needs Debian packages:$$missing (apt-get install them as root)" >&2; exit 1; fi; \
	  echo "installing Debian packages:$$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# The Chinese font the sources' posters and share images embed (the same check as system-deps).
# Without root it only says so: the app still runs, and a poster download explains what is missing.
fonts:
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  if [ "$$(id -u)" != 0 ]; then echo "posters need a Chinese font: apt-get install fonts-wqy-microhei as root" >&2; \
	  else DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei; fi; }

# The inner loop: everything but the real-browser tests and the ones that start several processes
# (gunicorn under load, kill -9, the mail sender crashing). make test (and CI) still runs them all.
quick: $(STAMP) translations lint
	$(BIN)/python -m pytest -q $(XDIST) -m "not browser" \
	  --ignore=tests/test_faults.py --ignore=tests/test_bench.py --ignore=tests/test_mail_crash.py \
	  --ignore=tests/test_make_run.py

# Load benchmark: simulated families through the chat under gunicorn, with same-run baselines.
# BENCH_ARGS=--quick is the small run (under a minute).
bench: $(STAMP) translations system-deps
	$(BIN)/python bench/load_bench.py $(BENCH_ARGS)

# Latency against load: 50 families at once, pausing longer and longer before each request.
bench-curve: $(STAMP) translations system-deps
	$(BIN)/python bench/load_curve.py $(CURVE_ARGS)

# Slow 3G in real Chromium (DevTools throttling): time to the first question and per step.
bench-slow: $(STAMP) translations system-deps
	$(BIN)/python bench/slow_network.py

# The long fuzz run: 10,000 Hypothesis examples per property (sheet loader and every form).
fuzz: $(STAMP) translations
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:randomly tests/test_engine_fuzz.py tests/test_fuzz_*.py

# Time the questionnaire engine on the real study (ratios to a same-run baseline).
bench-engine: $(STAMP)
	$(BIN)/python bench/engine_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find translations -name '*.mo' -delete
