# The two commands of the README: `make prove` and `make test`. Both set up .venv when missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: prove test bench reproduce fuzz venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[torch,onnx,test,cvc5]'
	touch $(STAMP)

prove: $(STAMP)
	$(BIN)/mathcircuits prove --cross-check --report reports

test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check maraboupy==2.0.0 || \
		echo "bench: maraboupy could not be installed; the Marabou column will say so"
	$(BIN)/python -m bench $(ARGS)

reproduce: $(STAMP)
	$(BIN)/python -m proofs.reproduce

fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz --claims 10000 --cross-check

clean:
	rm -rf $(VENV) reports .pytest_cache
