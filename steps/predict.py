"""predict: read word images (files or folders) with a model, no server needed.

    python -m steps.predict [--model-uri models:/hwr@champion] IMAGE_OR_FOLDER...

Prints one tab-separated line per image: file, text, confidence. A file that cannot be read is
reported on stderr, the others are still read, and the exit code is then 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from hwr.errors import DataError
from steps._cli import step, user_errors

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"}


def collect(paths: tuple[str, ...]) -> list[str]:
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            files.append(str(path))
        else:
            raise DataError(f"{path} does not exist")
    if not files:
        raise DataError("no image files found in " + ", ".join(paths))
    return files


@step()
@click.option("--model-uri", default="models:/hwr@champion", show_default=True)
@click.argument("paths", nargs=-1, required=True)
@user_errors
def main(model_uri, paths):
    import mlflow

    from hwr.serving.files import predict_files_each

    files = collect(paths)
    model = mlflow.pyfunc.load_model(model_uri)
    results = predict_files_each(model, files)
    for file, text, confidence, error in zip(files, results["text"], results["confidence"], results["error"]):
        if error:
            click.echo(f"error: {error}", err=True)
        else:
            click.echo(f"{file}\t{text}\t{confidence:.4f}")
    if any(results["error"]):
        sys.exit(1)


if __name__ == "__main__":
    main()
