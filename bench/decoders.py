"""The lexicon and hybrid decoders' constants, swept on a model's validation words.

Lexicon size x word-prior weight x the hybrid decoder's out-of-lexicon penalty (the fields of
hwr.decoding.decode.DecoderSettings): CER and words right of each combination, beside the settings the
model was logged with (the baseline, decoded in the same run); the figures go to
bench/results/decoders.json. The network runs once; every combination decodes the same
probabilities, and the free beam is searched once too, since the hybrid decoder is "lexicon
word or free beam's best" (hwr.decoding.decode.hybrid_decode).

Tune on validation words, never on the test words you report:

    python bench/decoders.py --model-uri models:/hwr/3 --data data/iam-<digest> \
        --file-list mlruns/0/<prepare run>/artifacts/splits/split-0/val.csv \
        [--sizes 50000,100000,200000] [--weights 0.5,0.75] [--penalties 18,22]

With --own-words FOLDER (a labelled folder: the words the model was fine-tuned on), each
combination is also decoded with those words mixed into the lexicon (--own-weights, their share
of the prior; hwr.decoding.lexicon.MixedLexicon).
"""

from __future__ import annotations

from pathlib import Path

import click


def sweep(probs, truths, charset, sizes, weights, penalties, beam_width=None, own=None, own_weights=(0.0,)):
    """One row per (size, weight, own weight): the lexicon decoder's scores and the hybrid decoder's
    at each penalty. `own`: a lexicon of the collection's own words, mixed in with each of
    `own_weights` (0: the general lexicon alone)."""
    from hwr.decoding.decode import DEFAULT_BEAM_WIDTH, beam_decode, hybrid_choice, lexicon_decode
    from hwr.decoding.lexicon import MixedLexicon, default_lexicon
    from hwr.evaluation import metrics

    beam_width = beam_width or DEFAULT_BEAM_WIDTH

    def scores(texts):
        return {"cer": metrics.cer(truths, texts), "words": metrics.word_accuracy(truths, texts)}

    free = beam_decode(probs, charset, beam_width)
    rows = []
    for size in sizes:
        general = default_lexicon(charset, size)
        for own_weight in own_weights if own is not None else (0.0,):
            lexicon = MixedLexicon(general, own, own_weight) if own_weight else general
            for weight in weights:
                words = lexicon_decode(probs, charset, lexicon, beam_width, prior_weight=weight)
                row = {"size": size, "weight": weight, "own_weight": own_weight,
                       "covers": sum(t in lexicon for t in truths) / len(truths),
                       "lexicon": scores([w.text for w in words]), "hybrid": {}}
                for penalty in penalties:  # hybrid_decode's pick, on the searches already made
                    row["hybrid"][penalty] = scores([d.text for d in hybrid_choice(words, free, lexicon, penalty)])
                rows.append(row)
    return rows


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


@click.command()
@click.option("--model-uri", required=True, help="A registered or logged hwr model, e.g. models:/hwr/3.")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False), help="The images' folder.")
@click.option("--file-list", type=click.Path(exists=True, dir_okay=False),
              help="A (path, text) CSV of validation words, paths relative to --data (a prepare run's val.csv); "
                   "without it, the folder's labels.tsv.")
@click.option("--sizes", default="50000,100000,200000", show_default=True)
@click.option("--weights", default="0.5,0.75,1.0", show_default=True)
@click.option("--penalties", default="14,18,22,26", show_default=True)
@click.option("--own-words", type=click.Path(exists=True),
              help="The training words to mix into the lexicon: a labelled folder, or a prepare run's "
                   "split-K/train.csv.")
@click.option("--own-weights", default="0,0.25,0.5", show_default=True,
              help="With --own-words: the own words' shares of the lexicon's prior.")
def main(model_uri, data, file_list, sizes, weights, penalties, own_words, own_weights):
    from hwr.runtime import quiet_tensorflow

    quiet_tensorflow()
    import mlflow
    import numpy as np
    import pandas as pd

    from collections import Counter

    from hwr.data import labelled as labelled_folder
    from hwr.data.images import load_file
    from hwr.decoding import decode, lexicon
    from hwr.evaluation.scoring import labelled_files, read_file_list

    labelled = (read_file_list(Path(file_list), Path(data)) if file_list
                else labelled_files(labelled_folder.load(Path(data))))
    recognizer = mlflow.pyfunc.load_model(model_uri).unwrap_python_model().recognizer
    images = np.stack([load_file(Path(f), recognizer.height, recognizer.width) for f in labelled["file"]])
    probs = decode.softmax(recognizer.logits(images))
    truths = list(labelled["text"])
    own = recognizer.settings  # what the model is served with, and calibrated for
    baseline = (own.lexicon_size, own.prior_weight, own.penalty)
    own = None
    if own_words:
        texts = (pd.read_csv(own_words, keep_default_na=False)["text"] if Path(own_words).is_file()
                 else labelled_folder.load(Path(own_words)).words["text"])
        counts = Counter(texts)
        own = lexicon.own_words(counts, recognizer.charset)
    rows = sweep(probs, truths, recognizer.charset, sorted({baseline[0], *map(int, _floats(sizes))}),
                 sorted({baseline[1], *_floats(weights)}), sorted({baseline[2], *_floats(penalties)}),
                 own=own, own_weights=sorted({0.0, *_floats(own_weights)}))
    print(f"{len(truths)} words; CER / words right; the model's own settings: size {baseline[0]}, "
          f"weight {baseline[1]}, penalty {baseline[2]:g}")
    base = next(r for r in rows if (r["size"], r["weight"], r["own_weight"]) == (*baseline[:2], 0.0)
                )["hybrid"][baseline[2]]["cer"]
    for row in rows:
        cells = [f"lexicon {row['lexicon']['cer']:.4f}/{row['lexicon']['words']:.3f}"]
        cells += [f"p{p:g} {s['cer']:.4f}/{s['words']:.3f}" for p, s in row["hybrid"].items()]
        print(f"size {row['size']:>7} own {row['own_weight']:<4g} (covers {row['covers']:.3f}) "
              f"weight {row['weight']:<4g} " + "  ".join(cells))
    best = min(((r["size"], r["weight"], r["own_weight"], p, s["cer"]) for r in rows for p, s in r["hybrid"].items()),
               key=lambda t: t[4])
    print(f"best hybrid: size {best[0]}, weight {best[1]:g}, own words {best[2]:g}, penalty {best[3]:g}: "
          f"CER {best[4]:.4f} against {base:.4f} with the model's own settings")
    from bench.common import save

    save("decoders", {"model_uri": model_uri, "words": len(truths), "baseline_hybrid_cer": base,
                      "best": {"size": best[0], "weight": best[1], "own_weight": best[2], "penalty": best[3],
                               "hybrid_cer": best[4]},
                      "rows": [{**r, "hybrid": {str(p): s for p, s in r["hybrid"].items()}} for r in rows]})


if __name__ == "__main__":
    main()
