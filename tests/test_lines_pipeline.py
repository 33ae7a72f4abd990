"""Lines end to end: synthetic lines through main to hwr-line, served over HTTP with each word's
place, evaluated and predicted from a line folder; IAM's words made into lines by the download step."""

from __future__ import annotations

import base64
import io
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests
from PIL import Image

from hwr.data.lines import join_words
from tests.iam_fixture import build_iam_zip
from tests.processes import mlflow_run, model_server, run
from tests.test_lines import _iam_forms

pytestmark = pytest.mark.slow

TINY = {"recipe": "lines", "samples": 48, "epochs": 1, "max_minutes": 0, "splits": 1, "model": "compact"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("lines")
    result = mlflow_run(path, "main", data_root=path / "data", **TINY)
    assert result.returncode == 0, result.stderr[-5000:]
    return path


@pytest.fixture(scope="module")
def data_dir(workdir, client):
    [download] = client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'download'")
    assert download.data.params["unit"] == "line"
    return download.data.tags["hwr.data_dir"]


def png_b64(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_synthetic_lines_train_a_line_model_registered_apart_from_the_word_model(workdir, client, data_dir):
    champion = client.get_model_version_by_alias("hwr-line", "champion")
    assert not client.search_model_versions("name='hwr'")
    run = client.get_run(champion.run_id)
    assert run.data.params["image_width"] == "800" and "test_cer" in run.data.metrics
    assert champion.tags["hwr.data_family"] == "general-lines"
    logged = mlflow.models.Model.load(f"models:/hwr-line/{champion.version}")
    assert logged.flavors["python_function"]["config"] == {"unit": "line"}  # served as a line model
    [prepare] = client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'prepare'")
    assert " " in mlflow.artifacts.load_dict(f"runs:/{prepare.info.run_id}/charset.json")["chars"]  # reads spaces
    labels = pd.read_csv(f"{data_dir}/labels.tsv", sep="\t", keep_default_na=False, quoting=3)
    assert len(labels) == 48 and labels["text"].str.contains(" ").all()


def test_the_served_line_model_answers_with_words_in_place_and_refuses_what_is_not_a_line(workdir, data_dir):
    labels = pd.read_csv(f"{data_dir}/labels.tsv", sep="\t", keep_default_na=False, quoting=3)
    lines = [Image.open(f"{data_dir}/{f}") for f in labels["file"][:3]]
    page = Image.new("L", (max(i.width for i in lines), sum(i.height + 30 for i in lines)), 255)
    top = 0
    for image in lines:
        page.paste(image.convert("L"), (0, top))
        top += image.height + 30
    blank = Image.new("L", (600, 40), 250)
    with model_server("models:/hwr-line@champion", workdir) as url:
        answer = requests.post(f"{url}/invocations", json={"inputs": {"image": [png_b64(lines[0]), png_b64(blank)]}},
                               timeout=60)
        assert answer.status_code == 200, answer.text
        first, empty = answer.json()["predictions"]
        assert 0 <= first["confidence"] <= 1 and isinstance(first["words"], list)
        assert join_words([w["text"] for w in first["words"]]) == first["text"]
        assert all(0 <= w["left"] < w["right"] <= lines[0].width for w in first["words"])
        assert (empty["text"], empty["confidence"], empty["words"]) == ("", 1.0, [])
        for bad, message in ((page, "holds 3 lines of writing"), (Image.new("L", (40, 300), 255), "wider than tall"),
                             (Image.new("L", (50_000, 40), 255), "wider than a line can be")):
            refused = requests.post(f"{url}/invocations", json={"inputs": {"image": [png_b64(bad)]}}, timeout=60)
            assert refused.status_code == 400 and message in refused.text, refused.text


def test_evaluate_and_predict_read_a_line_folder(workdir, client, data_dir):
    result = mlflow_run(workdir, "evaluate", data=data_dir, model_uri="models:/hwr-line@champion")
    assert result.returncode == 0, result.stderr[-3000:]
    [evaluation] = client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'evaluate'")
    metrics = evaluation.data.metrics
    assert metrics["images"] == 48 and metrics["refused"] == 0
    assert {"cer", "wer", "word_accuracy"} <= set(metrics) and np.isfinite(metrics["wer"])
    predicted = run([sys.executable, "-m", "steps.predict", "--model-uri", "models:/hwr-line@champion",
                     f"{data_dir}/lines"], workdir)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert len(predicted.stdout.strip().splitlines()) == 48


def test_the_download_step_makes_iam_words_into_lines(tmp_path):
    more = [["line", str(n)] for n in range(2, 20)]  # a data set needs 20 usable rows
    _iam_forms(tmp_path / "iam", {"a01-000u": [["A", "MOVE", "to", "stop", "."], ["Mr.", "Gaitskell"], *more]})
    archive = build_iam_zip(tmp_path / "iam", tmp_path / "IAM_Words.zip")
    result = mlflow_run(tmp_path, "download", dataset="iam", url=archive, unit="line", data_root=tmp_path / "data")
    assert result.returncode == 0, result.stderr[-3000:]
    [download] = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}").search_runs(["0"])
    index = pd.read_csv(mlflow.artifacts.download_artifacts(
        f"runs:/{download.info.run_id}/words.csv", tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}"),
        keep_default_na=False)
    assert list(index["text"]) == ["A MOVE to stop.", "Mr. Gaitskell", *(f"line {n}" for n in range(2, 20))]
    assert download.data.tags["hwr.data_dir"].endswith("-lines")


def test_a_line_model_and_a_word_model_register_as_one_line_reader(workdir, client, data_dir):
    from hwr.data.charset import Charset
    from hwr.data.images import encode_png_base64
    from hwr.model.variants import build_model
    from hwr.serving import packaging

    digits = Charset.from_texts(["0123456789"])  # the word model can only answer digits
    example = labels_of(data_dir)["file"][0]
    with mlflow.start_run(run_name="a word model"):
        word = packaging.log_model(build_model("compact", 32, 128, digits.num_classes), digits,
                                   encode_png_base64(f"{data_dir}/{example}"))
    line_version = client.get_model_version_by_alias("hwr-line", "champion").version

    wrong = mlflow_run(workdir, "reader", data=data_dir, word_model="models:/hwr-line@champion")
    assert wrong.returncode != 0 and "reads lines: give a model trained on words" in wrong.stderr, wrong.stderr[-2000:]
    result = mlflow_run(workdir, "reader", data=data_dir, word_model=word.model_uri)
    assert result.returncode == 0, result.stderr[-3000:]

    [reader] = [v for v in client.search_model_versions("name='hwr-line'") if v.tags.get("word_model")]
    assert reader.tags["word_model"] == word.model_uri and reader.tags["line_model"] == "models:/hwr-line@champion"
    assert reader.version != line_version and "eval_cer" in reader.tags
    logged = mlflow.models.Model.load(f"models:/hwr-line/{reader.version}")
    assert logged.flavors["python_function"]["config"] == {"unit": "line"}
    assert {"keras_model", "word_reader_keras_model", "word_reader_charset"} <= set(
        logged.flavors["python_function"]["artifacts"])
    served = mlflow.pyfunc.load_model(f"models:/hwr-line/{reader.version}")
    [answer] = served.predict(pd.DataFrame({"image": [encode_png_base64(f"{data_dir}/{example}")]})).to_dict("records")
    # The line model found the words; the word model read them.
    assert all(set(w["text"]) <= set("0123456789") for w in answer["words"])
    assert answer["text"] == join_words([w["text"] for w in answer["words"]])


def labels_of(data_dir) -> pd.DataFrame:
    return pd.read_csv(f"{data_dir}/labels.tsv", sep="\t", keep_default_na=False)
