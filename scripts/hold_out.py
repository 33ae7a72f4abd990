"""Cut a labelled folder into a held-out folder and training folders of the first N groups.

For measuring what a fine-tuning reads on pages it never saw, and how that grows with the pages
transcribed (docs/measurements.md, "Your own scans"). The new folders hold only a labels.tsv and
links to the source's image folders, so nothing is copied:

    python scripts/hold_out.py ../shared/data/gw-letters /tmp/gw --by page --held-out 278,279 --train 1,3,8

writes /tmp/gw/held-out (pages 278 and 279) and /tmp/gw/train-1, train-3, train-8 (the first 1, 3
and 8 of the other pages, in the order labels.tsv lists them).
"""

from __future__ import annotations

from pathlib import Path

import click

from hwr.data import labelled


def write_subset(rows, source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for top in sorted({Path(f).parts[0] for f in rows["file"]}):
        link = target / top
        if not link.exists():
            link.symlink_to((source / top).resolve())
    rows.drop(columns="line").to_csv(target / labelled.LABELS_FILE, sep="\t", index=False)


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--by", default="page", show_default=True, help="The column whose values are held out or trained.")
@click.option("--held-out", required=True, help="Comma-separated values of --by to hold out.")
@click.option("--train", default="1,3,8", show_default=True, help="Comma-separated numbers of groups to train on.")
def main(source: Path, target: Path, by: str, held_out: str, train: str) -> None:
    rows = labelled.read_labels(source / labelled.LABELS_FILE)
    if by not in rows.columns:
        raise click.UsageError(f"{source / labelled.LABELS_FILE} has no column {by!r}")
    kept = [v.strip() for v in held_out.split(",")]
    write_subset(rows[rows[by].isin(kept)], source, target / "held-out")
    others = [g for g in rows[by].drop_duplicates() if g not in kept]
    for n in (int(v) for v in train.split(",")):
        write_subset(rows[rows[by].isin(others[:n])], source, target / f"train-{n}")
        click.echo(f"train-{n}: {', '.join(others[:n])}")
    click.echo(f"held-out: {', '.join(kept)}")


if __name__ == "__main__":
    main()
