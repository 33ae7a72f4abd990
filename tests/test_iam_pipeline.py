"""The IAM path through the product's own download step, against a real HTTP server on 127.0.0.1."""

from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from hwr.data.fetch import sha256_of
from tests.conftest import SHARED_DATA
from tests.http_server import serve_folder
from tests.iam_fixture import build_iam_zip, render_iam_folder
from tests.processes import environment, mlflow_run

pytestmark = pytest.mark.slow


def runs_of(client, entry_point):
    return client.search_runs(["0"], f"tags.`mlflow.project.entryPoint` = '{entry_point}'")


def test_main_on_an_iam_archive_served_over_http(tmp_path):
    render_iam_folder(tmp_path / "src", forms=3, per_form=10, bad_rows=1)
    (tmp_path / "www").mkdir()
    archive = build_iam_zip(tmp_path / "src", tmp_path / "www" / "IAM_Words.zip")
    with serve_folder(tmp_path / "www") as (url, requests_seen):
        # With the iam preset's options that the quick start leaves at their defaults, 40 synthetic
        # words mixed into the batches, a wider canvas, weight decay, random erasing and heavier dropout.
        result = mlflow_run(tmp_path, "main", dataset="iam", url=f"{url}/IAM_Words.zip", sha256=sha256_of(archive),
                            epochs=1, splits=1, data_root=tmp_path / "data", val_fraction=0.2, ema=0.99,
                            mix_synthetic=0.25, samples=40, image_width=160,
                            augment="true", weight_decay=0.01, erase=0.3,
                            conv_dropout=0.1, rnn_dropout=0.3)
    assert result.returncode == 0, result.stderr[-5000:]
    assert requests_seen and requests_seen[0][0] == "/IAM_Words.zip"
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    downloads = {run.data.params["dataset"]: run for run in runs_of(client, "download")}
    download, synthetic = downloads["iam"], downloads["synthetic"]
    assert download.data.metrics["words_total"] == 33
    assert download.data.metrics["words_dropped_err"] == 3
    assert download.data.metrics["words_usable"] == 30
    assert download.data.tags["hwr.source_sha256"] == sha256_of(archive)
    data_dir = Path(download.data.tags["hwr.data_dir"])
    assert (data_dir / "words.txt").is_file() and len(list(data_dir.rglob("*.png"))) == 33
    assert str(client.get_model_version_by_alias("hwr", "champion").version) == "1"
    # main passed val_fraction to prepare (20 % of 30 words) and ema to the training.
    [prepare] = runs_of(client, "prepare")
    assert prepare.data.metrics["val_words"] == 6 and prepare.data.params["val_fraction"] == "0.2"
    [train] = runs_of(client, "train")
    trained = {name: train.data.params[name] for name in ("ema", "mix_synthetic", "image_width", "weight_decay",
                                                            "erase", "conv_dropout", "rnn_dropout")}
    assert trained == {"ema": "0.99", "mix_synthetic": "0.25", "image_width": "160", "weight_decay": "0.01",
                       "erase": "0.3", "conv_dropout": "0.1", "rnn_dropout": "0.3"}
    # The registered model reads 160-wide images: serving takes the canvas from the model itself.
    mlflow.set_tracking_uri(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    try:
        served = mlflow.pyfunc.load_model("models:/hwr@champion").unwrap_python_model().recognizer
    finally:
        mlflow.set_tracking_uri(None)
    assert (served.height, served.width) == (32, 160)
    # It was built with the dropout asked for (inactive when serving, but proof the option reached the model).
    assert served.model.get_layer("drop_in").rate == 0.3 and served.model.get_layer("drop_conv2").rate == 0.1
    # ... and the synthetic set's words (those the IAM words' charset covers) to the mix.
    assert train.data.params["mix_data_dir"] == synthetic.data.tags["hwr.data_dir"]
    assert synthetic.data.params["samples"] == "40"
    assert 0 < train.data.metrics["mix_words"] <= 40


def test_the_iam_preset_with_options_on_top(tmp_path):
    # The preset as a file, and what a user adds to it with -P: those win, the rest is the preset's.
    from hwr.training.recipe import Recipe

    render_iam_folder(tmp_path / "src", forms=4, per_form=10)
    archive = build_iam_zip(tmp_path / "src", tmp_path / "IAM_Words.zip")
    result = mlflow_run(tmp_path, "main", dataset="iam", url=archive, data_root=tmp_path / "data",
                        recipe="presets/iam.yaml", patience=15, epochs=1, splits=1, ensemble="false")
    assert result.returncode == 0, result.stderr[-5000:]
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    [train] = runs_of(client, "train")
    preset = Recipe.load(Path(__file__).parents[1] / "presets" / "iam.yaml")
    expected = {**preset.effective().params(), "patience": "15", "epochs": "1", "splits": "1", "ensemble": "false"}
    assert {name: train.data.params[name] for name in expected} == expected
    [prepare] = runs_of(client, "prepare")
    assert (prepare.data.params["split_by"], prepare.data.params["test_fraction"]) == ("form", "0.2")


def test_wrong_checksum_stops_the_pipeline_before_training(tmp_path):
    render_iam_folder(tmp_path / "src", forms=1, per_form=4)
    (tmp_path / "www").mkdir()
    build_iam_zip(tmp_path / "src", tmp_path / "www" / "IAM_Words.zip")
    with serve_folder(tmp_path / "www") as (url, _):
        result = mlflow_run(tmp_path, "main", dataset="iam", url=f"{url}/IAM_Words.zip", sha256="ab" * 32,
                            data_root=tmp_path / "data", timeout=300)
    assert result.returncode != 0
    assert "SHA-256 is" in result.stderr
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    assert runs_of(client, "train") == []
    assert not list((tmp_path / "data").glob("iam-*"))


IAM_DEV = SHARED_DATA / "iam-dev"


@pytest.mark.skipif(not (IAM_DEV / "IAM_Words.zip").is_file(), reason="the IAM dev archive is not on this machine")
def test_real_iam_dev_archive_through_the_download_step(tmp_path):
    expected = (IAM_DEV / "IAM_Words.zip.sha256").read_text().split()[0]
    with serve_folder(IAM_DEV) as (url, _):
        result = mlflow_run(tmp_path, "download", dataset="iam", url=f"{url}/IAM_Words.zip", sha256=expected,
                            data_root=tmp_path / "data", timeout=900)
    assert result.returncode == 0, result.stderr[-5000:]
    client = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"])
    [download] = runs_of(client, "download")
    assert download.data.metrics["words_usable"] > 12000
    words = Path(client.download_artifacts(download.info.run_id, "words.csv", str(tmp_path))).read_text()
    assert words.count("\n") == download.data.metrics["words_usable"] + 1
