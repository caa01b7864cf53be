# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# The recorded logs and labelled posts the tests and evaluations read.
SHARED := ../shared/data

.PHONY: help install shared-data demo test lint bench eval-intake eval-merge eval-nab eval-score eval-priority eval-priority-bound eval-relevance clean bench-route bench-budget

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

shared-data:
	@test -d $(SHARED) || { echo "make: the tests and evaluations read the recorded \
	data in $(SHARED) (README, Data); clone it beside this repository. \
	make demo needs none of it." >&2; exit 2; }

demo: $(STAMP)  ## replay the shipped Montgomery County log through the whole pipeline
	$(PY) -m agents demo $(DEMO_ARGS)

test: $(STAMP) shared-data  ## unit, doctest and end-to-end tests (embedded broker + Redis)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and mypy; never edits files
	$(PY) -m ruff check pipeline agents tests benchmarks
	$(PY) -m mypy

bench: $(STAMP)  ## throughput of the pipeline and a plain five-hop chain; last line JSON
	$(PY) -m benchmarks.throughput $(BENCH_ARGS)

bench-budget: $(STAMP)  ## CPU per report of worker, broker, domain code and the chain; last line JSON
	$(PY) -m benchmarks.cpu_budget $(BENCH_ARGS)

bench-route: $(STAMP)  ## route latency with 10,000 units, Redis and table, p50/p99; last line JSON
	$(PY) -m benchmarks.route_bench $(BENCH_ARGS)

eval-intake: $(STAMP) shared-data  ## every shared data file + 5,000 malformed messages: none lost; last line JSON
	$(PY) -m benchmarks.intake $(EVAL_ARGS)

eval-merge: $(STAMP) shared-data  ## incident and thread pairwise F1 vs the 80 m / 10 min rule; last line JSON
	$(PY) -m benchmarks.merge_eval $(EVAL_ARGS)

eval-nab: $(STAMP)  ## the surge detector on NAB (3 profiles) and the 2016 blizzard; last line JSON
	$(PY) -m benchmarks.nab_eval $(EVAL_ARGS)

eval-score: $(STAMP) shared-data  ## issue 6's figures: eval-priority and eval-relevance in one run; last line JSON
	$(PY) -m benchmarks.score_eval $(EVAL_ARGS)

eval-priority: $(STAMP) shared-data  ## online priority model vs per-type majority and the taker, SF fire + police; last line JSON
	$(PY) -m benchmarks.priority_eval $(EVAL_ARGS)

eval-priority-bound: $(STAMP) shared-data  ## best report-time key on the SF files, hindsight and held out; last line JSON
	$(PY) -m benchmarks.priority_bound $(EVAL_ARGS)

eval-relevance: $(STAMP) shared-data  ## social-post relevance (disaster_tweets, CrisisLexT6) and info type; last line JSON
	$(PY) -m benchmarks.relevance_eval $(EVAL_ARGS)

clean:  ## remove run state (var/)
	rm -rf var
