"""The project's own files agree with each other and with the code: MLproject, Makefile, presets,
conda.yaml, pyproject.toml, README and docs, CI."""

import re
import shlex
import subprocess
import tomllib

import pytest
import yaml

from hwr.data.datasets import synthetic_name
from hwr.training.recipe import FIELDS
from steps.reference import entry_points, reference

ENTRY_POINTS = {"main", "download", "prepare", "train", "register", "evaluate", "reader"}
# The user's guide and the docs that tell users what to run (measurements.md keeps old runs' commands).
GUIDES = ["README.md", "docs/presets.md", "docs/decoders.md", "docs/team.md", "docs/troubleshooting.md",
          "docs/performance.md", "docs/architecture.md", "docs/own-data.md", "docs/lines.md"]


def mlproject(project_dir):
    return yaml.safe_load((project_dir / "MLproject").read_text())


def readme(project_dir) -> str:
    return (project_dir / "README.md").read_text()


def test_mlproject_declares_only_what_an_entry_point_needs(project_dir):
    # Every option's default lives in the step's own option; a default here would be a second copy.
    spec = mlproject(project_dir)
    assert set(spec["entry_points"]) == ENTRY_POINTS
    for name, entry in spec["entry_points"].items():
        assert entry["command"].startswith(f"python -m steps.{name}")
        for param, declared in entry.get("parameters", {}).items():
            assert "default" not in declared, f"{name}: {param} has a default in MLproject"
            assert "{" + param + "}" in entry["command"], f"{name}: {param} is declared but never passed"
            option = next(p for p in entry_points()[name].params if p.name == param)
            assert option.required, f"{name}: {param} is declared, so it should be required by the step"


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


def test_reference_is_what_the_steps_say(project_dir):
    # docs/reference.md is generated; an option added to a step or to the recipe must show there.
    assert (project_dir / "docs" / "reference.md").read_text() == reference(), \
        "docs/reference.md is stale: python -m steps.reference > docs/reference.md"


def test_readme_is_a_short_guide(project_dir):
    assert len(readme(project_dir).splitlines()) <= 150


def make_dry_run(project_dir, *args):
    out = subprocess.run(["make", "-n", "-C", str(project_dir), *args], capture_output=True, text=True, check=True)
    return out.stdout.replace("\\\n", " ")


def mlflow_params(dry_run: str) -> list[tuple[str, str]]:
    command = next(line for line in dry_run.splitlines() if line.lstrip().startswith("mlflow run"))
    return re.findall(r"-P (\w+)=(\S+)", command)


@pytest.mark.parametrize("args, expected", [
    (("pipeline",), {"epochs": "5"}),
    (("pretrain",), {"recipe": "presets/pretrain.yaml", "model_name": "hwr-synthetic"}),
    (("pretrain", "ARGS=-P max_minutes=0 -P epochs=13"), {"max_minutes": "0", "epochs": "13"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip"), {"dataset": "iam", "url": "/x/IAM_Words.zip", "recipe": "presets/iam.yaml"}),
    (("iam", "IAM_URL=/x/IAM_Words.zip", "ARGS=-P patience=15 -P split_by=writer -P writers=/x/f.tsv"),
     {"patience": "15", "split_by": "writer", "writers": "/x/f.tsv"}),
])
def test_make_targets_give_mlflow_each_parameter_once(project_dir, args, expected):
    # `mlflow run` stops with "Repeated parameter" when a -P comes twice: presets leave -P free for users.
    params = mlflow_params(make_dry_run(project_dir, *args))
    names = [name for name, _ in params]
    assert len(names) == len(set(names)), names
    assert expected.items() <= dict(params).items()


def test_readme_names_the_synthetic_folder_the_default_pipeline_writes(project_dir):
    # The folder name carries the generator version, so a version bump silently broke the README's examples.
    written = synthetic_name(FIELDS["samples"].default, FIELDS["seed"].default, [])
    named = set(re.findall(r"data/(synthetic-[\w-]+)", readme(project_dir)))
    assert named == {written}


def heading_anchors(markdown: str) -> set[str]:
    # GitHub's rule: lower case, drop punctuation but hyphens, spaces become hyphens. A `#` line in
    # a fenced code block is a shell comment, not a heading.
    prose = re.sub(r"^```.*?^```", "", markdown, flags=re.MULTILINE | re.DOTALL)
    headings = re.findall(r"^#+ (.+)$", prose, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("guide", GUIDES)
def test_links_reach_a_file_and_heading(project_dir, guide):
    page = project_dir / guide
    for path, anchor in re.findall(r"\]\(([^)#:\s]+)?(?:#([^)\s]+))?\)", page.read_text()):
        target = (page.parent / path) if path else page
        assert target.is_file(), f"{guide} links to {path}, which does not exist"
        if anchor:
            assert anchor in heading_anchors(target.read_text()), f"{guide}: no heading #{anchor} in {path}"


def commands(markdown: str) -> list[str]:
    """The shell commands of a page: fenced bash lines and inline `code` that starts like one, with
    continuation lines joined and comments dropped."""
    blocks = re.findall(r"^```bash\n(.*?)^```", markdown, flags=re.MULTILINE | re.DOTALL)
    lines = " \n".join(blocks).replace("\\\n", " ").splitlines()
    lines += re.findall(r"`((?:make|mlflow run|python -m steps|python bench)[^`]*)`", markdown)
    out = []
    for line in lines:
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def parameters_of(entry_point: str) -> set[str]:
    return {p.opts[0].lstrip("-").replace("-", "_") for p in entry_points()[entry_point].params}


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_in_the_guides_names_what_exists(project_dir, guide):
    # A renamed make target, entry point, option, preset or script must not leave a dead command behind.
    makefile = (project_dir / "Makefile").read_text()
    targets = set(re.findall(r"^([\w-]+):", makefile, flags=re.MULTILINE))
    variables = set(re.findall(r"^(\w+) \?=", makefile, flags=re.MULTILINE)) | {"ARGS", "PYTEST_ARGS", "IAM_URL"}
    checked = 0
    for command in commands((project_dir / guide).read_text()):
        words = shlex.split(command.replace("$(", "(").replace("<", "").replace(">", ""), comments=False)
        if words == ["make"]:
            continue
        if words[0] == "make":
            assert words[1] in targets, f"{guide}: make {words[1]} is no target ({command})"
            for word in words[2:]:
                name = word.split("=")[0]
                assert name in variables, f"{guide}: make variable {name} does not exist ({command})"
        elif words[:2] == ["mlflow", "run"]:
            entry = words[words.index("-e") + 1] if "-e" in words else "main"
            assert entry in ENTRY_POINTS, f"{guide}: no entry point {entry}"
            for name, value in re.findall(r"-P (\w+)=(\S+)", command):
                assert name in parameters_of(entry), f"{guide}: {entry} has no parameter {name} ({command})"
                if name == "recipe" and value.startswith("presets/"):
                    assert (project_dir / value).is_file(), f"{guide}: no preset {value}"
        elif words[:2] == ["python", "-m"] and words[2].startswith("steps."):
            assert (project_dir / (words[2].replace(".", "/") + ".py")).is_file(), f"{guide}: no {words[2]}"
        elif words[0] == "python" and words[1].startswith("bench/"):
            assert (project_dir / words[1]).is_file(), f"{guide}: no {words[1]}"
        else:
            continue
        checked += 1
    if guide == "README.md":
        assert checked >= 8
