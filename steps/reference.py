"""reference: docs/reference.md, every entry point's parameters, made from the steps' own options.

    python -m steps.reference > docs/reference.md
"""

from __future__ import annotations

import importlib
from pathlib import Path

import click
import yaml

from hwr.pipeline.orchestration import PROJECT_DIR
from hwr.training.recipe import FIELDS

HEADER = """# Entry points and parameters

Made by `python -m steps.reference > docs/reference.md` from the steps' own options (a test keeps
this file equal to what that command prints). Give any of them to `mlflow run` as `-P name=value`,
or on the command line as `python -m steps.<entry point> --name value`. Options marked *recipe*
can also come from a preset file (`-P recipe=presets/iam.yaml`); one given with `-P` wins over the
file. `none` means no value.
"""


def entry_points() -> dict[str, click.Command]:
    spec = yaml.safe_load((Path(PROJECT_DIR) / "MLproject").read_text())
    return {name: importlib.import_module(f"steps.{name}").main for name in spec["entry_points"]}


def rows(command: click.Command) -> list[str]:
    out = []
    for param in command.params:
        if not isinstance(param, click.Option) or param.name == "help":
            continue
        name = param.opts[0].lstrip("-").replace("-", "_")
        value = param.default
        value = "none" if value is None else str(value).lower() if isinstance(value, bool) else value
        default = "required" if param.required else f"`{value}`"
        kind = "recipe" if name in FIELDS else ""
        text = (param.help or "").replace("|", "\\|")
        choices = getattr(param.type, "choices", None)
        if choices:
            text = f"{text} One of: {', '.join(f'`{c}`' for c in choices)}.".strip()
        out.append(f"| `{name}` | {default} | {kind} | {text} |")
    return out


def reference() -> str:
    parts = [HEADER]
    for name, command in entry_points().items():
        summary = " ".join((importlib.import_module(f"steps.{name}").__doc__ or "").split("\n\n")[0].split())
        parts += [f"## `{name}`", "", summary, "", "| parameter | default | | what it does |",
                  "| --- | --- | --- | --- |", *rows(command), ""]
    return "\n".join(parts)


if __name__ == "__main__":
    click.echo(reference(), nl=False)
