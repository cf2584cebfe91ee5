# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LLM_STAMP := $(VENV)/.installed-llm

.PHONY: install run test lint unit evals bench bench-scale load reader decision intents routes browser clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# the CPU build of torch lies on this machine's disk; install it first so nothing pulls CUDA
	$(PY) -m pip install -q -c constraints.txt torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# llama.cpp's server (built from source, about 6.5 min on 2 cores) and Gemma 3 270M, for the
# writer's integration test only
$(LLM_STAMP): $(STAMP)
	CMAKE_ARGS=-DGGML_NATIVE=OFF $(PY) -m pip install -q -c constraints.txt -e '.[llm-test]'
	touch $(LLM_STAMP)

run: install
	$(VENV)/bin/assistant index
	$(PY) app.py

# Debian's Chromium for the browser test (Playwright drives /usr/bin/chromium).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

unit: install browser $(LLM_STAMP)
	$(VENV)/bin/assistant index
	$(PY) -m pytest -q

evals: install
	$(VENV)/bin/assistant eval --gate --report reports/eval
	$(VENV)/bin/assistant eval --corpus evals/corpora/household --gate
	$(VENV)/bin/assistant eval --squad ../shared/squad2/dev-v2.0.json --gate

test: lint unit evals

bench: install
	$(PY) -m benchmarks.bench

bench-scale: install
	$(PY) -m benchmarks.bench_scale

# 16, 64 and 256 concurrent 5-turn conversations against /v1/chat/completions (httpx),
# streamed and not, with 1 worker and with 2 over one Chroma server
load: install
	$(PY) -m benchmarks.load

# retrain the reader on ../shared/squad2 (resumes from models/reader/checkpoints), fit its
# sentence weights, then refit the decision over it
reader: install
	$(PY) -m training.reader
	$(PY) -m evals.squad ../shared/squad2/dev-v2.0.json --calibrate
	$(MAKE) decision

# refit the answer decision (models/answer/decision.json): the confidence and its thresholds,
# per answerer, on the eval cases' fit half, the household corpus and ../shared/qa-extra
# (about 10 minutes on 2 cores)
decision: install
	$(PY) -m evals.fit_decision

# retrain the learned intent rail (models/intents) on training/data/intents/intent_examples*.jsonl
# and SQuAD 2.0 train questions, then the head in front of it: about 20 minutes on 2 cores
intents: install
	$(PY) -m training.intents
	$(PY) -m training.intents --head

# refit the router (models/routes/router.json) on training/data/routes/examples.jsonl: about a minute
routes: install
	$(PY) -m training.routes

clean:
	rm -rf index/chroma index/manifest.json* reports .pytest_cache
