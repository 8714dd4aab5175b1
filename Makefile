# Two commands set everything up on a fresh machine:
#   make demo   compile an example program and show what it computes
#   make test   run the whole test suite
# Each creates .venv and installs what it needs (torch pinned to the CPU build).
VENV   ?= .venv
PYTHON ?= python3
PY     := $(VENV)/bin/python
SP     := $(VENV)/bin/superpose

.PHONY: demo test bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test,sae]'  # sae: CI runs the SAELens example at a tiny size (+65 s, 0.8 GB)
	touch $@

demo: $(VENV)/.installed
	@mkdir -p out
	$(SP) compile programs/animals.sbp -o out/animals.safetensors
	$(SP) info out/animals.safetensors
	$(SP) run out/animals.safetensors --on feathers,flies
	$(SP) report out/animals.safetensors --samples 2000

test: $(VENV)/.installed
	$(PY) -m pytest -q

# Every benchmark with the arguments BENCHMARKS.md records; over an hour on 2 cores
# (bench_chain.py alone takes about 40 minutes).
bench: $(VENV)/.installed
	$(PY) bench/bench_compile.py
	$(PY) bench/bench_uand.py --samples 1000 --sweep-samples 200 --confirm 500
	$(PY) bench/bench_verify.py --torch-inputs 131072
	$(PY) bench/bench_netlists.py
	$(PY) bench/bench_chain.py
	$(PY) bench/bench_readouts.py
	$(PY) bench/bench_sweep.py --jobs 2 --repeats 2
	rm -f bench/frontier_uand1k.csv  # a fresh table: the sweep would skip the cells it already has
	$(SP) sweep sweeps/frontier.toml -o bench/frontier_uand1k.csv --plot bench/frontier_uand1k.png --jobs 2
	$(PY) bench/bench_deep.py circuits --circuits 512  # issue 14: hours on 2 cores (each report of 16,384 gates ~12 min)
	$(PY) bench/bench_deep.py chain
	$(PY) bench/bench_deep.py scaling --cis-neurons-of narrowest --scale-circuits 16 --scale-gates 64 --scale-inputs 64 --scale-samples 40

clean:
	rm -rf $(VENV) out
