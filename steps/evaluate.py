"""evaluate: a model on a labelled folder (labels.tsv or IAM layout): CER, WER, word accuracy, predictions."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import click
import mlflow

from hwr.decoding.decode import DECODERS, DEFAULT_BEAM_WIDTH
from hwr.evaluation import scoring
from hwr.pipeline.artifacts import labelled_images
from hwr.pipeline.tracking import log_params_once, log_rejected
from hwr.serving.pyfunc import MAX_BEAM_WIDTH
from steps._cli import no_value, step, step_run, user_errors

log = logging.getLogger(__name__)


def decoder_list(ctx, param, value):
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in DECODERS]
    if unknown or not names:
        raise click.BadParameter(f"{', '.join(unknown) or 'none given'}: choose from {', '.join(DECODERS)}")
    return names


@step()
@click.option("--model-uri", default="models:/hwr@champion")
@click.option("--data", required=True, type=click.Path(file_okay=False),
              help="Folder with labels.tsv (columns file, text, any others) or an IAM-layout words.txt; rows "
                   "whose image or text is unusable are left out, counted and listed (rejected.tsv).")
@click.option("--case-sensitive", type=click.BOOL, default=True,
              help="false compares case-insensitively (for sets labelled in capitals).")
@click.option("--decoders", default="greedy", callback=decoder_list,
              help=f"Comma-separated, from {', '.join(DECODERS)}; each is scored (beam_cer, lexicon_cer, ...).")
@click.option("--beam-width", type=click.IntRange(1, MAX_BEAM_WIDTH), default=DEFAULT_BEAM_WIDTH)
@click.option("--file-list", default="none", callback=no_value,
              help="Score only the images of this (path, text) CSV, paths relative to --data: for example "
                   "runs:/<prepare run>/splits/test.csv, the held-out test words.")
@user_errors
def main(model_uri, data, case_sensitive, decoders, beam_width, file_list):
    files, checked = labelled_images(Path(data), file_list)  # fails clearly before the model loads
    with step_run(), tempfile.TemporaryDirectory() as tmp:
        log_params_once({"model_uri": model_uri, "data": data, "case_sensitive": case_sensitive,
                         "decoders": ",".join(decoders), "beam_width": beam_width, "file_list": file_list or "none"})
        if checked is not None:
            log.info(f"evaluate: {checked.summary()}")
            mlflow.log_metrics(checked.counts)
            log_rejected(checked.rejected, log)
        model = mlflow.pyfunc.load_model(model_uri)
        scores, table = scoring.evaluate(model, files, case_sensitive, decoders, beam_width)
        mlflow.log_metrics(scores)
        for row in table[table["error"] != ""].head(5).itertuples():
            log.warning(f"evaluate: refused, scored as read wrong: {row.error}")
        table.to_csv(Path(tmp) / "predictions.csv", index=False)
        mlflow.log_artifact(str(Path(tmp) / "predictions.csv"))
        for decoder in decoders:
            log.info(f"evaluate: {int(scores['images'])} images, {decoder}: CER {scores[decoder + '_cer']:.4f}, "
                         f"WER {scores[decoder + '_wer']:.4f}, word accuracy {scores[decoder + '_word_accuracy']:.4f}, "
                         f"ECE {scores[decoder + '_ece']:.3f}")


if __name__ == "__main__":
    main()
