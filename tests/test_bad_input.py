"""Bad parameters stop a step before any work, with one line naming the problem (no traceback),
and never leave a run RUNNING."""

import sys

import pytest
from mlflow.tracking import MlflowClient

from tests.processes import environment, mlflow_run, run

NO_RUN = "0123456789abcdef0123456789abcdef"  # a run id no store has


def step(workdir, name, *args):
    return run([sys.executable, "-m", f"steps.{name}", *args], workdir, timeout=120)


@pytest.mark.parametrize(
    "name, args, message",
    [
        ("main", ["--dataset", "imagenet"], "Invalid value for '--dataset'"),
        ("main", ["--epochs", "0"], "Invalid value for '--epochs': 0 is not in the range x>=1"),
        ("main", ["--splits", "0"], "Invalid value for '--splits'"),
        ("main", ["--samples", "-5"], "Invalid value for '--samples'"),
        ("main", ["--max-workers", "-1"], "Invalid value for '--max-workers'"),
        ("main", ["--model", "resnet"], "Invalid value for '--model'"),
        ("main", ["--split-by", "colour"], "split_by=colour: the words have no column 'colour' to keep together; "
                                           "choose random, form, writer"),
        ("main", ["--max-minutes", "-3"], "Invalid value for '--max-minutes'"),
        ("prepare", ["--words-uri", "words.csv", "--writers", "/no/such/forms.tsv"], "does not exist"),
        ("prepare", ["--words-uri", "words.csv", "--test-fraction", "1.5"], "Invalid value for '--test-fraction'"),
        ("prepare", ["--words-uri", "words.csv", "--val-fraction", "0"], "Invalid value for '--val-fraction'"),
        ("main", ["--ema", "1"], "Invalid value for '--ema'"),
        ("main", ["--image-width", "130"], "must be a multiple of 4 from 64 to 1024, got 130"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--image-width", "1028"], "from 64 to 1024, got 1028"),
        ("main", ["--erase", "0.5"], "set augment=true too"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--erase", "0.5"], "set augment=true too"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--erase", "2"], "Invalid value for '--erase'"),
        ("main", ["--weight-decay", "-0.1"], "Invalid value for '--weight-decay'"),
        ("main", ["--rnn-dropout", "1"], "Invalid value for '--rnn-dropout'"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--conv-dropout", "-0.1"],
         "Invalid value for '--conv-dropout'"),
        ("main", ["--mix-synthetic", "0.3"], "use it with dataset=iam"),
        ("main", ["--dataset", "iam", "--mix-synthetic", "1"], "Invalid value for '--mix-synthetic'"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--mix-synthetic", "0.3"], "needs mix_data_dir"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--ema", "-0.5"], "Invalid value for '--ema'"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--schedule", "step"], "Invalid value for '--schedule'"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--epochs", "0"], "Invalid value for '--epochs'"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", "/no/such/folder"], "does not exist"),
        ("train", ["--splits-uri", f"runs:/{NO_RUN}", "--data-dir", "."], "cannot fetch the prepared splits"),
        ("prepare", ["--words-uri", "/no/such/words.csv"], "cannot fetch the word index"),
        ("register", ["--parent-run-id", NO_RUN, "--splits-uri", f"runs:/{NO_RUN}", "--data-dir", "."],
         "cannot fetch the test list"),
        ("evaluate", ["--data", ".", "--file-list", "/no/such/test.csv"], "cannot fetch the file list"),
        ("download", ["--dataset", "iam", "--url", "/no/such/IAM_Words.zip"], "does not exist"),
        ("evaluate", ["--data", "."], "neither labels.tsv"),
        ("predict", ["/no/such/image.png"], "does not exist"),
        # what `mlflow run` passes for an undeclared -P: a misspelt option is named, with the right one
        ("main", ["--epoch", "5"], "No such option '--epoch'. Did you mean '--epochs'?"),
        ("main", ["--recipe", "presets/nope.yaml"], "no such file, nor a preset of that name (presets: finetune, gpu-full-iam, iam"),
        ("train", ["--splits-uri", "runs:/x", "--data-dir", ".", "--recipe", "nope"], "nor a preset of that name"),
    ],
)
def test_bad_parameters_get_a_clear_one_line_error(tmp_path, name, args, message):
    result = step(tmp_path, name, *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_writer_split_of_iam_words_needs_the_writers_table(tmp_path):
    (tmp_path / "words.csv").write_text("id,path,text,form\na-0,w/a-0.png,word,a01-000u\n")
    result = step(tmp_path, "prepare", "--words-uri", "words.csv", "--split-by", "writer")
    assert result.returncode == 1 and "split_by=writer needs writers=FILE" in result.stderr


def test_evaluate_names_missing_columns(tmp_path):
    (tmp_path / "labels.tsv").write_text("image\tlabel\nx.png\thello\n")
    result = step(tmp_path, "evaluate", "--data", str(tmp_path))
    assert result.returncode == 1 and "missing column(s) file, text" in result.stderr


def test_failed_step_run_is_marked_failed_with_the_reason(tmp_path):
    result = mlflow_run(tmp_path, "download", dataset="iam", url="/no/such/IAM_Words.zip", timeout=180)
    assert result.returncode != 0 and "does not exist" in result.stderr
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    [failed] = client.search_runs(["0"])
    assert failed.info.status == "FAILED"
    assert "does not exist" in failed.data.tags["hwr.error"]


def test_mlflow_run_with_bad_parameter_leaves_no_running_run(tmp_path):
    result = mlflow_run(tmp_path, "main", epochs=0, timeout=180)
    assert result.returncode != 0 and "Invalid value for '--epochs'" in result.stderr
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    assert [r.info.status for r in client.search_runs(["0"])] == ["FAILED"]
