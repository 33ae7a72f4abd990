"""Training on a user's own labelled folder through `main`: as a folder and as a zip on a local HTTP
server, rejected rows counted and named, page-disjoint splits, datasets and test metrics in MLflow,
fine-tuning from a registered model with another alphabet, and champions left alone."""

import base64

import mlflow
import pandas as pd
import pytest
import requests
from mlflow.tracking import MlflowClient

from hwr.data.fetch import sha256_of
from tests.folder_fixture import BAD_ROWS, WORDS, build_folder, usable_rows, zip_folder
from tests.http_server import serve_folder
from tests.processes import environment, mlflow_run, model_server, run

pytestmark = pytest.mark.slow

TINY = {"epochs": 1, "splits": 1, "split_by": "page", "test_fraction": 0.25, "val_fraction": 0.25}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("own-data")


@pytest.fixture(scope="module")
def letters(workdir, client):
    """`main` on the folder `letters` (with bad rows) as it is: the pipeline run."""
    folder = build_folder(workdir / "scans" / "letters")
    result = mlflow_run(workdir, "main", dataset="folder", data=folder, data_root=workdir / "data", **TINY)
    assert result.returncode == 0, result.stderr[-5000:]
    [parent] = client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'main'")
    return parent, result


def step_of(client, parent, entry_point):
    tag = {"download": "hwr.download_run", "prepare": "hwr.prepare_run"}.get(entry_point)
    if tag:
        return client.get_run(parent.data.tags[tag])
    [child] = client.search_runs(["0"], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' and "
                                        f"tags.`mlflow.project.entryPoint` = '{entry_point}'")
    return child


def test_rejected_rows_are_counted_and_named_and_the_rest_train(client, letters):
    parent, result = letters
    download = step_of(client, parent, "download")
    metrics = download.data.metrics
    assert metrics["rows_total"] == usable_rows() + len(BAD_ROWS) and metrics["words_usable"] == usable_rows()
    assert metrics["rejected_unreadable_image"] == metrics["rejected_empty_text"] == 1
    rejected = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{download.info.run_id}/rejected.tsv"),
                           sep="\t", keep_default_na=False)
    assert dict(zip(rejected["file"], rejected["reason"])) == BAD_ROWS
    assert "images/broken.png: unreadable image" in result.stderr  # and on the console
    train = step_of(client, parent, "train")
    assert train.info.status == "FINISHED"
    assert train.data.metrics["train_words"] + train.data.metrics["val_words"] + train.data.metrics["test_words"] \
        == usable_rows()


def test_no_page_is_on_both_sides_of_the_split(client, letters):
    prepare = step_of(client, letters[0], "prepare")
    assert prepare.data.params["split_by"] == "page"
    lists = {name: pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{prepare.info.run_id}/splits/{name}"))
             for name in ("test.csv", "split-0/train.csv", "split-0/val.csv")}
    pages = {name: set(frame["page"]) for name, frame in lists.items()}
    assert all(pages.values())
    assert not pages["test.csv"] & pages["split-0/train.csv"] and not pages["test.csv"] & pages["split-0/val.csv"]
    assert not pages["split-0/train.csv"] & pages["split-0/val.csv"]


def test_the_training_logs_its_word_lists_and_links_test_scores_to_its_model(client, letters):
    train = step_of(client, letters[0], "train")
    contexts = {i.dataset.name: [t.value for t in i.tags if t.key == "mlflow.data.context"][0]
                for i in train.inputs.dataset_inputs}
    assert contexts == {"split-0-training": "training", "split-0-validation": "validation", "test": "testing"}
    model = mlflow.get_logged_model(train.outputs.model_outputs[0].model_id)
    linked = {m.key: m for m in model.metrics}
    assert linked["test_cer"].value == train.data.metrics["test_cer"]
    assert linked["test_cer"].dataset_name == "test" and "test_lexicon_cer" in linked


def test_the_model_is_registered_under_the_folders_name_and_served(workdir, client, letters):
    version = client.get_model_version_by_alias("hwr-letters", "champion")
    assert version.tags["hwr.data_family"] == f"folder:{(workdir / 'scans' / 'letters').resolve()}"
    assert [m.name for m in client.search_registered_models()] == ["hwr-letters"]  # hwr untouched
    image = base64.b64encode((workdir / "scans" / "letters" / "images" / "p1" / "w02.png").read_bytes()).decode()
    with model_server("models:/hwr-letters@champion", workdir) as url:
        answer = requests.post(f"{url}/invocations", json={"inputs": {"image": [image]}}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()["predictions"][0]["text"], str)


def test_fine_tuning_from_a_zip_over_http_with_another_alphabet_leaves_champions_alone(workdir, client, letters):
    # A general champion of hwr, as the quick start leaves one (here: the letters model, registered again).
    letters_version = client.get_model_version_by_alias("hwr-letters", "champion")
    general = mlflow.register_model(f"models:/hwr-letters/{letters_version.version}", "hwr")
    client.set_registered_model_alias("hwr", "champion", general.version)
    # More pages, with letters the first model never saw (Q, Z, q), zipped and served over HTTP.
    more = build_folder(workdir / "scans" / "more-letters", pages=3, bad=False,
                        words=WORDS + ["Quebec", "Zeal", "Vernon,"])
    (workdir / "www").mkdir()
    archive = zip_folder(more, workdir / "www" / "more-letters.zip")
    with serve_folder(workdir / "www") as (url, seen):
        result = mlflow_run(workdir, "main", dataset="folder", data=f"{url}/more-letters.zip",
                            sha256=sha256_of(archive), data_root=workdir / "data", model_name="hwr",
                            init_model="models:/hwr-letters@champion", own_words=0.5, **TINY)
    assert result.returncode == 0, result.stderr[-5000:]
    assert seen[0][0] == "/more-letters.zip"
    [parent] = [r for r in client.search_runs(["0"], "tags.`mlflow.project.entryPoint` = 'main'")
                if r.info.run_id != letters[0].info.run_id]
    train = step_of(client, parent, "train")
    # The new letters start fresh; the shared ones, and the layers, come from the registered model.
    prepare = step_of(client, parent, "prepare")
    assert 0 < train.data.metrics["init_shared_chars"] < prepare.data.metrics["charset_size"]
    assert train.data.metrics["init_layers_copied"] > 0
    # Asked to join hwr, the model trained on other data is registered but does not take the alias.
    assert client.get_model_version_by_alias("hwr", "champion").version == general.version
    [new] = [v for v in client.search_model_versions("name = 'hwr'") if v.version != general.version]
    assert new.tags["challenger"] == "true" and "learnt from general" in new.tags["hwr.held_back"]
    assert client.get_model_version_by_alias("hwr-letters", "champion").version == letters_version.version
    assert len(client.search_model_versions("name = 'hwr-letters'")) == 1
    # own_words=0.5: the words it trained on, as transcribed, are words its lexicon decoders may return.
    assert train.data.metrics["own_words"] > 0
    lexicon = mlflow.pyfunc.load_model(f"models:/hwr/{new.version}").unwrap_python_model().recognizer.lexicon
    trained = set(pd.read_csv(mlflow.artifacts.download_artifacts(
        f"runs:/{prepare.info.run_id}/splits/split-0/train.csv"), keep_default_na=False)["text"])
    assert trained and all(word in lexicon for word in trained)
    assert ("Vernon," in lexicon) == ("Vernon," in trained) and "Vernon," not in lexicon.general


@pytest.mark.parametrize(
    "content, message",
    [
        (b"file\ttext\nimages/p0/w00.png\tthe\textra\n", "labels.tsv:2: 3 tab-separated field(s), the header has 2"),
        (b"file\tword\nimages/p0/w00.png\tthe\n", "labels.tsv:1: missing column(s) text"),
        (b"file\ttext\nimages/p0/w00.png\tcaf\xe9\n", "labels.tsv:2: not UTF-8"),
    ],
)
def test_a_malformed_labels_file_stops_before_any_run_trains(tmp_path, content, message):
    folder = build_folder(tmp_path / "scans", pages=1, per_page=2, bad=False)
    (folder / "labels.tsv").write_bytes(content)
    result = mlflow_run(tmp_path, "main", dataset="folder", data=folder, data_root=tmp_path / "data", timeout=300)
    assert result.returncode != 0 and message in result.stderr
    runs = MlflowClient(environment(tmp_path)["MLFLOW_TRACKING_URI"]).search_runs(["0"])
    assert not [r for r in runs if r.data.tags.get("mlflow.project.entryPoint") == "train"]


def test_too_few_usable_rows_stop_the_download_with_the_reasons(tmp_path):
    folder = build_folder(tmp_path / "scans", pages=1, per_page=5)
    result = run(["python", "-m", "steps.download", "--dataset", "folder", "--data", str(folder),
                  "--data-root", str(tmp_path / "data")], tmp_path, timeout=300)
    assert result.returncode == 1
    assert "4 of 10 rows usable" in result.stderr and "at least 20 usable rows are needed" in result.stderr
