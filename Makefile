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
	$(PY) -m pip install -q -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	@mkdir -p out
	$(SP) compile programs/animals.sbp -o out/animals.safetensors
	$(SP) info out/animals.safetensors
	$(SP) run out/animals.safetensors --on feathers,flies
	$(SP) report out/animals.safetensors --samples 2000

test: $(VENV)/.installed
	$(PY) -m pytest -q

bench: $(VENV)/.installed
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) out
