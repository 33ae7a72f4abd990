"""The project's own files agree with each other: MLproject, conda.yaml, pyproject.toml, README, CI."""

import re
import subprocess
import tomllib

import pytest
import yaml

from hwr.data.datasets import synthetic_name

ENTRY_POINTS = {"main", "download", "prepare", "train", "register", "evaluate"}
USER_PARAMS = {"epochs": "5", "splits": "3", "max_workers": None, "dataset": "synthetic", "samples": None,
               "batch_size": None, "seed": None}


def mlproject(project_dir):
    return yaml.safe_load((project_dir / "MLproject").read_text())


def readme(project_dir) -> str:
    return (project_dir / "README.md").read_text()


def test_entry_points_and_user_parameters(project_dir):
    spec = mlproject(project_dir)
    assert set(spec["entry_points"]) == ENTRY_POINTS
    main = spec["entry_points"]["main"]["parameters"]
    for name, default in USER_PARAMS.items():
        assert name in main, name
        if default is not None:
            assert str(main[name]["default"]) == default
    for name, entry in spec["entry_points"].items():
        for param, declared in entry.get("parameters", {}).items():
            assert declared["type"] in {"string", "float", "path", "uri"}, (name, param)
            assert "{" + param + "}" in entry["command"], f"{name}: {param} is declared but never passed"


def test_conda_and_pip_pins_agree(project_dir):
    pip_deps = tomllib.loads((project_dir / "pyproject.toml").read_text())["project"]["dependencies"]
    conda = yaml.safe_load((project_dir / "conda.yaml").read_text())
    conda_pip = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    assert sorted(pip_deps) == sorted(conda_pip)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[0-9][0-9A-Za-z.]*", d) for d in pip_deps), "every dependency is pinned"


def test_ci_runs_the_readme_test_command(project_dir):
    ci = (project_dir / ".ci" / "run").read_text()
    assert "make test" in readme(project_dir) and "make test" in ci
    assert "make pipeline" in readme(project_dir)


def test_readme_entry_point_table_names_every_parameter(project_dir):
    # The table is how users learn the parameters; one added to MLproject alone stays invisible.
    lines = readme(project_dir).splitlines()
    for name, entry in mlproject(project_dir)["entry_points"].items():
        row = next((line for line in lines if line.startswith(f"| `{name}` |")), None)
        assert row is not None, f"README's entry-point table has no row for {name}"
        missing = [param for param in entry.get("parameters", {}) if f"`{param}`" not in row]
        assert not missing, f"README's {name} row does not name {missing}"


def make_dry_run(project_dir, *args):
    out = subprocess.run(["make", "-n", "-C", str(project_dir), *args], capture_output=True, text=True, check=True)
    return out.stdout.replace("\\\n", " ")


def mlflow_params(dry_run: str) -> list[tuple[str, str]]:
    command = next(line for line in dry_run.splitlines() if line.lstrip().startswith("mlflow run"))
    return re.findall(r"-P (\w+)=(\S+)", command)


@pytest.mark.parametrize("args, expected", [
    (("pipeline",), {"epochs": "5"}),
    (("pretrain",), {"epochs": "300", "max_minutes": "25", "model_name": "hwr-synthetic"}),
    (("pretrain", "PRETRAIN_MINUTES=0", "PRETRAIN_EPOCHS=13"), {"epochs": "13", "max_minutes": "0"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip"),
     {"url": "/x/IAM_Words.zip", "epochs": "300", "max_minutes": "80", "learning_rate": "0.003", "ema": "0.999",
      "val_fraction": "0.05", "splits": "2", "ensemble": "true"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_MINUTES=0", "IAM_EPOCHS=75"), {"epochs": "75", "max_minutes": "0"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_SPLIT_BY=writer", "ARGS=-P writers=/x/forms_writers.tsv"),
     {"split_by": "writer", "writers": "/x/forms_writers.tsv"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_LEARNING_RATE=0.001"), {"learning_rate": "0.001"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_EMA=0", "IAM_VAL_FRACTION=0.1"), {"ema": "0", "val_fraction": "0.1"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_WEIGHT_DECAY=0.05", "IAM_ERASE=0.5"),
     {"weight_decay": "0.05", "erase": "0.5"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_CONV_DROPOUT=0.1", "IAM_RNN_DROPOUT=0.3"),
     {"conv_dropout": "0.1", "rnn_dropout": "0.3"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "IAM_SPLITS=1", "IAM_ENSEMBLE=false"), {"splits": "1", "ensemble": "false"}),
])
def test_make_targets_give_mlflow_each_parameter_once(project_dir, args, expected):
    # `mlflow run` stops with "Repeated parameter" when a -P comes twice, so preset values are make variables.
    params = mlflow_params(make_dry_run(project_dir, *args))
    names = [name for name, _ in params]
    assert len(names) == len(set(names)), names
    assert expected.items() <= dict(params).items()


def test_readme_names_the_synthetic_folder_the_default_pipeline_writes(project_dir):
    # The folder name carries the generator version, so a version bump silently broke the README's examples.
    main = mlproject(project_dir)["entry_points"]["main"]["parameters"]
    written = synthetic_name(int(main["samples"]["default"]), int(main["seed"]["default"]), [])
    named = set(re.findall(r"data/(synthetic-[\w-]+)", readme(project_dir)))
    assert named == {written}


def heading_anchors(markdown: str) -> set[str]:
    # GitHub's rule: lower case, drop punctuation but hyphens, spaces become hyphens. A `#` line in
    # a fenced code block is a shell comment, not a heading.
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", prose, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


def test_readme_links_reach_a_file_and_heading(project_dir):
    # The measurements moved out of the README; a renamed heading or file must not leave dead links.
    links = re.findall(r"\]\(([^)#:\s]+)(?:#([^)\s]+))?\)", readme(project_dir))
    assert ("docs/measurements.md", "") in links
    for path, anchor in links:
        target = project_dir / path
        assert target.is_file(), f"README links to {path}, which does not exist"
        if anchor:
            assert anchor in heading_anchors(target.read_text()), f"README: no heading #{anchor} in {path}"


def test_readme_spells_out_the_iam_preset_that_make_runs(project_dir):
    # README's "the same as:" command is how users run the preset without make; it must not drift.
    lines = readme(project_dir).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("make iam IAM_URL=/path/to/IAM_Words.zip")
                 and "the same as" in line)
    command = []
    for line in lines[start + 1:]:
        command.append(line.rstrip("\\ "))
        if not line.endswith("\\"):
            break
    spelled = re.findall(r"-P (\w+)=(\S+)", " ".join(command))
    assert spelled == mlflow_params(make_dry_run(project_dir, "iam", "IAM_URL=/path/to/IAM_Words.zip"))
