# One command for each thing a newcomer does. Everything runs inside ./.venv, created on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
EPOCHS ?= 5
PORT ?= 5001
# Test files run on this many pytest-xdist workers, a whole file to one worker (module fixtures such
# as the end-to-end pipeline run once); the slow tests spend much of their time in process start-up
# and I/O, so two workers keep both cores busy.
TEST_WORKERS ?= 2
export PATH := $(abspath $(BIN)):$(PATH)
export MLFLOW_TRACKING_URI ?= sqlite:///mlflow.db
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup pipeline pretrain iam test test-fast serve ui clean

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

setup: $(VENV)/.installed  ## create .venv and install the project with its pinned dependencies

pipeline: setup  ## download -> prepare -> parallel trainings -> register, on the embedded synthetic data
	mlflow run . --env-manager local -P epochs=$(EPOCHS) $(ARGS)

pretrain: setup  ## presets/pretrain.yaml: a crnn on synthetic words (25 min), registered as hwr-synthetic
	mlflow run . --env-manager local -P recipe=presets/pretrain.yaml -P model_name=hwr-synthetic $(ARGS)

iam: setup  ## presets/iam.yaml on IAM_URL (a path or URL of IAM_Words.zip); more -P options in ARGS
	@test -n "$(IAM_URL)" || { echo "error: give the archive: make iam IAM_URL=/path/to/IAM_Words.zip"; exit 1; }
	mlflow run . --env-manager local -P dataset=iam -P url=$(IAM_URL) -P recipe=presets/iam.yaml $(ARGS)

test: setup  ## the whole test suite, slow end-to-end tests included (what CI runs)
	python -m pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

test-fast: setup  ## unit tests only
	python -m pytest -n $(TEST_WORKERS) --dist loadfile -m "not slow" $(PYTEST_ARGS)

serve: setup  ## serve the champion model on 127.0.0.1:$(PORT)
	mlflow models serve -m models:/hwr@champion --env-manager local -h 127.0.0.1 -p $(PORT)

ui: setup  ## the MLflow UI on 127.0.0.1:5000
	mlflow ui --backend-store-uri $(MLFLOW_TRACKING_URI) -h 127.0.0.1 -p 5000

clean:  ## remove runs, the tracking database and generated data (keeps .venv)
	rm -rf mlruns mlflow.db data/synthetic-* data/iam-* data/folder-* data/downloads
