"""End to end: the real `mlflow run` of the whole pipeline on a tiny synthetic set, then the
registry, the served model over HTTP, evaluate and predict against what it produced."""

from __future__ import annotations

import base64
import shutil
import sys

import mlflow
import numpy as np
import pandas as pd
import pytest
import requests

from tests.processes import mlflow_run, model_server, run

pytestmark = pytest.mark.slow

TINY = {"samples": 240, "epochs": 1, "splits": 2, "batch_size": 32}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("pipeline")
    result = mlflow_run(path, "main", data_root=path / "data", **TINY)
    assert result.returncode == 0, result.stderr[-5000:]
    return path


def runs_of(client, entry_point):
    return client.search_runs(["0"], f"tags.`mlflow.project.entryPoint` = '{entry_point}'",
                              order_by=["attributes.start_time ASC"])


def test_parent_run_with_parallel_children(workdir, client):
    [parent] = runs_of(client, "main")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["epochs"] == "1" and parent.data.params["splits"] == "2"
    children = runs_of(client, "train")
    assert len(children) == 2
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    assert {c.data.params["split"] for c in children} == {"0", "1"}
    assert all(c.info.status == "FINISHED" for c in children)
    # The quick start's recipe as trained, the model's own dropout filled in, in the params and in a
    # recipe.yaml that trains the same again; and a calibrated confidence for every decoder.
    from hwr.model.variants import VARIANTS
    from hwr.training.recipe import Recipe

    for child in children:
        params = child.data.params
        assert (params["model"], params["epochs"], params["augment"]) == ("compact", "1", "false")
        assert params["rnn_dropout"] == str(VARIANTS["compact"]["rnn_dropout"])
        assert params["seed"] == str(42 + int(params["split"]))
        again = Recipe.load(mlflow.artifacts.download_artifacts(f"runs:/{child.info.run_id}/recipe.yaml",
                                                                dst_path=str(workdir / child.info.run_id)))
        assert again.params() == {name: params[name] for name in again.params()}
    for child in children:
        for decoder in ("greedy", "beam", "lexicon", "hybrid"):
            assert 0 <= child.data.metrics[f"val_{decoder}_ece"] <= 1
        assert {"test_beam_cer", "test_lexicon_cer", "test_lexicon_word_accuracy", "test_hybrid_cer"} <= set(
            child.data.metrics)
    for step in ("download", "prepare", "register"):
        [run_] = runs_of(client, step)
        assert run_.data.tags["mlflow.parentRunId"] == parent.info.run_id
    # The two trainings overlapped in time: they ran in parallel.
    a, b = children
    assert a.info.start_time < b.info.end_time and b.info.start_time < a.info.end_time


def test_children_log_metrics_artifacts_and_model(client):
    for child in runs_of(client, "train"):
        run_id = child.info.run_id
        for metric in ("train_loss", "val_loss", "val_cer", "val_wer"):
            history = client.get_metric_history(run_id, metric)
            assert [m.step for m in history] == [1], metric
        for metric in ("best_val_cer", "test_cer", "test_wer", "test_word_accuracy"):
            assert metric in child.data.metrics
        # The best epoch's CER is the lowest of the epochs' (one epoch here: that one).
        history = [m.value for m in client.get_metric_history(run_id, "val_cer")]
        assert child.data.metrics["best_val_cer"] == min(history)
        files = {f.path for f in client.list_artifacts(run_id)} | {
            f.path for f in client.list_artifacts(run_id, "plots")}
        assert {"plots/loss.png", "plots/cer.png", "plots/test_gallery.png", "charset.json", "recipe.yaml"} <= files
        model = mlflow.models.get_model_info(child.data.tags["hwr.model_uri"])
        assert model.signature.inputs.input_names() == ["image"]
        assert set(model.signature.outputs.input_names()) == {"text", "confidence"}


def test_prepare_logs_test_list_and_vocabulary(client):
    [prepare] = runs_of(client, "prepare")
    files = {f.path for f in client.list_artifacts(prepare.info.run_id, "splits")}
    assert {"splits/test.csv", "splits/split-0", "splits/split-1"} <= files
    charset = mlflow.artifacts.load_dict(f"runs:/{prepare.info.run_id}/charset.json")
    assert len(charset["chars"]) == prepare.data.metrics["charset_size"] > 20


def test_script_log_on_parent(client):
    [parent] = runs_of(client, "main")
    text = mlflow.artifacts.load_text(f"runs:/{parent.info.run_id}/script.log")
    for line in ("run started", "epoch 1 of 1 complete for split 0", "epoch 1 of 1 complete for split 1",
                 "split 0 done", "split 1 done", "model registered"):
        assert line in text, line


def test_best_child_is_champion(client):
    children = {r.info.run_id: r for r in runs_of(client, "train")}
    champion = client.get_model_version_by_alias("hwr", "champion")
    chosen = children[champion.tags["source_run"]]
    assert chosen.data.metrics["best_val_cer"] == min(r.data.metrics["best_val_cer"] for r in children.values())
    assert champion.description and chosen.info.run_id in champion.description


def test_rerun_reuses_download_and_prepare_and_never_loses_the_champion(workdir, client):
    first = client.get_model_version_by_alias("hwr", "champion")
    result = mlflow_run(workdir, "main", data_root=workdir / "data", **TINY)
    assert result.returncode == 0, result.stderr[-5000:]
    assert "download: reusing finished run" in result.stderr
    assert len(runs_of(client, "download")) == 1 and len(runs_of(client, "prepare")) == 1
    assert len(runs_of(client, "main")) == 2 and len(runs_of(client, "train")) == 4
    second = client.get_model_version("hwr", "2")
    champion = client.get_model_version_by_alias("hwr", "champion")
    if str(champion.version) == "2":
        assert float(second.tags["eval_cer"]) < float(first.tags["eval_cer"])
        assert "challenger" not in second.tags
    else:
        assert str(champion.version) == str(first.version) and second.tags.get("challenger") == "true"


def test_a_new_parameter_forces_a_fresh_download(workdir, client):
    result = mlflow_run(workdir, "download", samples=60, data_root=workdir / "data")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(runs_of(client, "download")) == 2


def test_served_model_answers_over_http(workdir, client):
    [prepare] = runs_of(client, "prepare")
    [download] = runs_of(client, "download")[:1]
    data_dir = download.data.tags["hwr.data_dir"]
    test_list = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{prepare.info.run_id}/splits/test.csv"))
    encoded = [base64.b64encode(open(f"{data_dir}/{p}", "rb").read()).decode() for p in test_list.path[:3]]
    local = mlflow.pyfunc.load_model("models:/hwr@champion").predict(pd.DataFrame({"image": encoded}))
    with model_server("models:/hwr@champion", workdir) as url:
        answer = requests.post(f"{url}/invocations", json={"inputs": {"image": encoded}}, timeout=60)
        assert answer.status_code == 200, answer.text
        predictions = answer.json()["predictions"]
        assert [p["text"] for p in predictions] == list(local["text"])
        assert all(0.0 <= p["confidence"] <= 1.0 for p in predictions)
        split = requests.post(f"{url}/invocations",
                              json={"dataframe_split": {"columns": ["image"], "data": [[encoded[0]]]}}, timeout=60)
        assert split.status_code == 200 and split.json()["predictions"][0]["text"] == local["text"][0]
        bad = requests.post(f"{url}/invocations", json={"inputs": {"image": [encoded[0], "%%%not-base64"]}},
                            timeout=60)
        assert bad.status_code == 400 and "row 1" in bad.text and "base64" in bad.text
        decoder = requests.post(f"{url}/invocations", json={"inputs": {"image": encoded[:1]},
                                                            "params": {"decoder": "psychic"}}, timeout=60)
        assert decoder.status_code == 400 and "unknown decoder" in decoder.text
        again = requests.post(f"{url}/invocations", json={"inputs": {"image": encoded[:1]}}, timeout=60)
        assert again.status_code == 200


def labelled_folder(workdir, client, tmp_path, uppercase=False):
    [download] = runs_of(client, "download")[:1]
    data_dir = download.data.tags["hwr.data_dir"]
    words = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{download.info.run_id}/words.csv"),
                        keep_default_na=False)[:12]
    (tmp_path / "images").mkdir()
    rows = []
    for i, (path, text) in enumerate(zip(words.path, words.text)):
        shutil.copy(f"{data_dir}/{path}", tmp_path / "images" / f"{i}.png")
        rows.append({"file": f"images/{i}.png", "text": text.upper() if uppercase else text})
    pd.DataFrame(rows).to_csv(tmp_path / "labels.tsv", sep="\t", index=False)
    return tmp_path


def test_evaluate_entry_point_logs_metrics_and_predictions(workdir, client, tmp_path):
    folder = labelled_folder(workdir, client, tmp_path, uppercase=True)
    with open(folder / "labels.tsv", "a") as labels:  # a row the evaluation leaves out, and says so
        labels.write("images/missing.png\tGONE\n")
    result = mlflow_run(workdir, "evaluate", data=folder, case_sensitive="false")
    assert result.returncode == 0, result.stderr[-3000:]
    [evaluation] = runs_of(client, "evaluate")
    assert {"cer", "wer", "word_accuracy"} <= set(evaluation.data.metrics)
    table = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{evaluation.info.run_id}/predictions.csv"))
    assert len(table) == 12 and {"truth", "prediction", "confidence"} <= set(table.columns)
    assert evaluation.data.metrics["rejected_missing_file"] == 1 and evaluation.data.metrics["words_usable"] == 12
    rejected = mlflow.artifacts.load_text(f"runs:/{evaluation.info.run_id}/rejected.tsv")
    assert "images/missing.png\tGONE\tmissing file" in rejected


def test_evaluate_without_labels_is_a_clear_error(workdir, tmp_path):
    result = run([sys.executable, "-m", "steps.evaluate", "--data", str(tmp_path)], workdir)
    assert result.returncode == 1
    assert "neither labels.tsv" in result.stderr and "Traceback" not in result.stderr


def test_predict_command_reads_files_and_folders(workdir, client, tmp_path):
    folder = labelled_folder(workdir, client, tmp_path)
    result = run([sys.executable, "-m", "steps.predict", str(folder / "images"), str(folder / "images" / "0.png")],
                 workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 13
    file, text, confidence = lines[-1].split("\t")
    assert file.endswith("0.png") and 0 <= float(confidence) <= 1


def test_predict_command_reports_a_bad_file_and_reads_the_rest(workdir, client, tmp_path):
    folder = labelled_folder(workdir, client, tmp_path)
    (folder / "images" / "5.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    result = run([sys.executable, "-m", "steps.predict", str(folder / "images")], workdir)
    assert result.returncode == 1
    assert len(result.stdout.strip().splitlines()) == 11
    assert "5.png: not an image format" in result.stderr and "Traceback" not in result.stderr


def test_register_without_a_finished_child_is_a_clear_error(workdir, client):
    before = client.get_model_version_by_alias("hwr", "champion").version
    [download] = runs_of(client, "download")[:1]  # a run with no training children
    [prepare] = runs_of(client, "prepare")
    result = run([sys.executable, "-m", "steps.register", "--parent-run-id", download.info.run_id,
                  "--splits-uri", f"runs:/{prepare.info.run_id}", "--data-dir", download.data.tags["hwr.data_dir"]],
                 workdir)
    assert result.returncode == 1 and "nothing to register" in result.stderr and "Traceback" not in result.stderr
    assert client.get_model_version_by_alias("hwr", "champion").version == before


def test_ensemble_of_the_splits_is_registered_and_reads_as_their_averaged_outputs(workdir, client):
    from hwr.data.images import load_file
    from hwr.decoding.decode import decode, softmax
    from hwr.pipeline.artifacts import load_logged_model

    parent = runs_of(client, "main")[0]
    [prepare] = runs_of(client, "prepare")
    children = sorted(client.search_runs(["0"], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' "
                                                "and tags.`mlflow.project.entryPoint` = 'train'"),
                      key=lambda c: int(c.data.tags["hwr.split"]))
    result = run([sys.executable, "-m", "steps.register", "--parent-run-id", parent.info.run_id,
                  "--splits-uri", f"runs:/{prepare.info.run_id}", "--data-dir", parent.data.tags["hwr.data_dir"],
                  "--ensemble", "true"], workdir)
    assert result.returncode == 0, result.stderr[-5000:]
    assert "ensemble of 2 models" in result.stderr and "hybrid CER" in result.stderr
    newest = max(client.search_model_versions("name='hwr'"), key=lambda v: int(v.version))
    assert newest.tags["members"] == ",".join(c.info.run_id for c in children)
    register_run = client.get_run(newest.tags["source_run"])
    assert register_run.data.params["ensemble"] == "true"
    scores = register_run.data.metrics
    assert {"test_cer", "test_beam_cer", "test_lexicon_cer", "test_hybrid_cer", "test_hybrid_ece"} <= set(scores)
    assert float(newest.tags["test_cer"]) == pytest.approx(scores["test_cer"], abs=1e-4)
    # Served, it reads what the members' averaged per-frame log-probabilities spell.
    test_list = pd.read_csv(client.download_artifacts(prepare.info.run_id, "splits/test.csv", str(workdir)),
                            dtype=str, keep_default_na=False)
    files = [f"{parent.data.tags['hwr.data_dir']}/{p}" for p in test_list["path"][:12]]
    pixels = np.stack([load_file(f) for f in files]).astype("float32")[..., None]
    members = [load_logged_model(c.data.tags["hwr.model_uri"]) for c in children]
    log_probs = np.mean([np.log(softmax(m.predict(pixels, verbose=0))) for m, _ in members], axis=0)
    expected = [d.text for d in decode(softmax(log_probs), members[0][1], "greedy")]
    served = mlflow.pyfunc.load_model(f"models:/hwr/{newest.version}")
    encoded = [base64.b64encode(open(f, "rb").read()).decode() for f in files]
    assert list(served.predict(pd.DataFrame({"image": encoded}))["text"]) == expected


def test_one_failed_split_loses_nothing_of_the_others(workdir, client):
    versions = len(client.search_model_versions("name='hwr'"))
    # Asked for an ensemble, one surviving split is registered alone.
    result = mlflow_run(workdir, "main", env={"HWR_TEST_FAIL_SPLIT": "1"}, data_root=workdir / "data", ensemble="true",
                        **TINY)
    assert result.returncode != 0
    assert "split 1: RuntimeError: failure injected for split 1" in result.stderr
    assert "ensemble asked for, but one split finished: registering it alone" in result.stderr
    parent = runs_of(client, "main")[-1]
    assert parent.info.status == "FAILED" and "split 1" in parent.data.tags["hwr.failed_splits"]
    children = client.search_runs(["0"], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}' "
                                         "and tags.`mlflow.project.entryPoint` = 'train'")
    status = {c.data.tags["hwr.split"]: c.info.status for c in children}
    assert status == {"0": "FINISHED", "1": "FAILED"}
    survivor = next(c for c in children if c.data.tags["hwr.split"] == "0")
    assert len(client.get_metric_history(survivor.info.run_id, "val_cer")) == 1
    # The finished split was still registered.
    newest = max(client.search_model_versions("name='hwr'"), key=lambda v: int(v.version))
    assert len(client.search_model_versions("name='hwr'")) == versions + 1
    assert newest.tags["source_run"] == survivor.info.run_id


def test_champion_whose_run_was_deleted_is_reported_and_kept(workdir, client):
    champion = client.get_model_version_by_alias("hwr", "champion")
    versions = len(client.search_model_versions("name='hwr'"))
    client.delete_run(champion.run_id)
    parent = runs_of(client, "main")[0]
    [prepare] = runs_of(client, "prepare")
    result = run([sys.executable, "-m", "steps.register", "--parent-run-id", parent.info.run_id,
                  "--splits-uri", f"runs:/{prepare.info.run_id}", "--data-dir", parent.data.tags["hwr.data_dir"]],
                 workdir)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "was deleted" in result.stderr and "alias was left as it was" in result.stderr
    assert client.get_model_version_by_alias("hwr", "champion").version == champion.version
    assert len(client.search_model_versions("name='hwr'")) == versions
