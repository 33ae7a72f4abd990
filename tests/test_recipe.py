"""The recipe: one source for every training option, presets as files, the command line on top."""


import click
import pytest
import yaml
from click.testing import CliRunner

from hwr.model.variants import KERAS_EXAMPLE_DROPOUT, VARIANTS
from hwr.training.recipe import FIELDS, Recipe, RecipeError, fields_for
from steps._cli import PRESETS_DIR, locate, recipe_options, resolve_recipe, step

PRESETS = sorted(PRESETS_DIR.glob("*.yaml"))


def test_keras_example_always_trains_with_its_own_recipe():
    recipe = Recipe(model="keras_example", augment=True, schedule="cosine", learning_rate=0.01).effective()
    assert (recipe.augment, recipe.schedule, recipe.learning_rate) == (False, "constant", 1e-3)
    crnn = Recipe(model="crnn", augment=True, schedule="cosine").effective()
    assert (crnn.augment, crnn.schedule) == (True, "cosine")
    # The example trains on its own data only (no words mixed in), on 128x32 images, with plain
    # Adam, without random erasing, with its own dropout.
    example = Recipe(model="keras_example", mix_synthetic=0.3, image_width=192, weight_decay=0.05, augment=True,
                     erase=0.5, conv_dropout=0.1, rnn_dropout=0.5).effective()
    assert (example.mix_synthetic, example.image_width, example.weight_decay, example.erase) == (0.0, 128, 0.0, 0.0)
    assert (example.conv_dropout, example.rnn_dropout) == tuple(KERAS_EXAMPLE_DROPOUT.values())
    crnn = Recipe(model="crnn", mix_synthetic=0.3, image_width=192, weight_decay=0.05, augment=True, erase=0.5,
                  conv_dropout=0.1, rnn_dropout=0.5).effective()
    assert (crnn.mix_synthetic, crnn.image_width, crnn.weight_decay, crnn.erase) == (0.3, 192, 0.05, 0.5)
    assert (crnn.conv_dropout, crnn.rnn_dropout) == (0.1, 0.5)


@pytest.mark.parametrize("model", sorted(VARIANTS))
def test_dropout_left_to_the_model_is_the_models_own(model):
    trained = Recipe(model=model).effective()
    assert (trained.conv_dropout, trained.rnn_dropout) == (VARIANTS[model]["conv_dropout"],
                                                           VARIANTS[model]["rnn_dropout"])
    assert Recipe(model=model).params()["rnn_dropout"] == "none"  # what was asked for: the model's own


def test_values_are_checked_and_converted_as_on_the_command_line():
    recipe = Recipe(epochs="7", augment="true", learning_rate="3e-3", init_model="none", conv_dropout="none")
    assert (recipe.epochs, recipe.augment, recipe.learning_rate) == (7, True, 0.003)
    assert recipe.init_model is None and recipe.conv_dropout is None
    with pytest.raises(RecipeError, match=r"epochs: 0 is not in the range x>=1"):
        Recipe(epochs=0)
    with pytest.raises(RecipeError, match="image_width: must be a multiple of 4 from 64 to 1024, got 130"):
        Recipe(image_width=130)
    with pytest.raises(RecipeError, match="set augment=true too"):
        Recipe(erase=0.5)


def test_a_saved_recipe_loads_back_equal(tmp_path):
    recipe = Recipe(model="crnn", epochs=12, learning_rate=0.003, augment=True, erase=0.2, init_model="runs:/x/model",
                    rnn_dropout=0.3, split_by="form", ensemble=True)
    recipe.save(tmp_path / "recipe.yaml")
    assert Recipe.load(tmp_path / "recipe.yaml") == recipe
    assert Recipe.build(recipe.params()) == recipe  # params, as MLflow keeps them, say the same


def test_a_file_with_overrides_on_top(tmp_path):
    (tmp_path / "r.yaml").write_text("model: crnn\nepochs: 300\npatience: 20\n")
    recipe = Recipe.load(tmp_path / "r.yaml", {"patience": "15"})
    assert (recipe.model, recipe.epochs, recipe.patience) == ("crnn", 300, 15)
    assert recipe.batch_size == FIELDS["batch_size"].default  # what neither sets keeps its default


@pytest.mark.parametrize("text, message", [
    ("epoch: 3\n", r"r.yaml: unknown option epoch \(did you mean epochs\?\)"),
    ("epochs: many\n", "r.yaml: epochs: 'many' is not a valid integer"),
    ("epochs:\n", "r.yaml: epochs: needs a value"),
    ("- epochs\n", "must be a mapping of option: value"),
    ("epochs: [\n", "is not valid YAML"),
])
def test_a_bad_file_is_refused_naming_the_file_and_the_option(tmp_path, text, message):
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(RecipeError, match=message):
        Recipe.load(tmp_path / "r.yaml")


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_every_preset_loads_and_says_why_for_each_value(preset):
    values = yaml.safe_load(preset.read_text())
    assert values and Recipe.build(values, source=str(preset))
    # One comment per choice: every line that sets a value says why on the same line.
    lines = [line for line in preset.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == len(values)
    assert [line for line in lines if "#" not in line] == []


def test_the_iam_preset_is_the_measured_one():
    iam = Recipe.load(PRESETS_DIR / "iam.yaml")
    assert (iam.model, iam.splits, iam.ensemble, iam.learning_rate, iam.max_minutes) == ("crnn", 2, True, 0.003, 80)
    assert (iam.weight_decay, iam.ema, iam.val_fraction, iam.split_by) == (0.05, 0.999, 0.05, "form")


@step()
@recipe_options("main")
def show(**options):
    recipe = resolve_recipe("main", options)
    click.echo(yaml.safe_dump(recipe.params()))


def resolved(*args) -> dict:
    result = CliRunner().invoke(show, list(args))
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


def test_options_given_win_over_the_file_and_defaults_do_not(tmp_path):
    (tmp_path / "r.yaml").write_text("epochs: 300\npatience: 20\nmodel: crnn\n")
    assert resolved("--recipe", str(tmp_path / "r.yaml"))["epochs"] == "300"
    # Given explicitly, even a value equal to the default wins over the file.
    given = resolved("--recipe", str(tmp_path / "r.yaml"), "--epochs", "5", "--patience", "15")
    assert (given["epochs"], given["patience"], given["model"]) == ("5", "15", "crnn")
    # `mlflow run` passes an undeclared -P weight_decay=0.1 as --weight_decay 0.1.
    assert resolved("--weight_decay", "0.1", "--model", "keras_example")["weight_decay"] == "0.1"


def test_a_preset_by_name_and_a_missing_one():
    assert resolved("--recipe", "iam")["model"] == "crnn"
    result = CliRunner().invoke(show, ["--recipe", "nope"])
    assert result.exit_code != 0 and "no such file, nor a preset of that name" in str(result.exception)


def test_each_step_takes_the_fields_meant_for_it():
    assert {f.name for f in fields_for("prepare")} == {"seed", "splits", "split_by", "test_fraction", "val_fraction"}
    assert {f.name for f in fields_for("register")} == {"ensemble"}
    assert {f.name for f in fields_for("main")} == set(FIELDS)
    assert all(f.metadata["help"] for f in FIELDS.values())


def test_the_finetune_preset_starts_from_the_champion_and_knows_your_words():
    finetune = Recipe.load(PRESETS_DIR / "finetune.yaml")
    assert (finetune.init_model, finetune.model, finetune.own_words) == ("models:/hwr@champion", "crnn", 0.5)
    assert (finetune.learning_rate, finetune.max_minutes, finetune.split_by) == (0.002, 30, "random")
    assert finetune.patience == 0  # a few pages validate on too few words to stop on


def test_a_line_pipeline_needs_a_wide_canvas_and_no_synthetic_words():
    Recipe(unit="line", image_width=800).check_unit()
    Recipe.load(locate("lines")).check_unit()  # the lines preset is complete
    with pytest.raises(RecipeError, match="unit=line reads whole lines: image_width must be at least 512, got 128"):
        Recipe(unit="line").check_unit()
    with pytest.raises(RecipeError, match="not with unit=line"):
        Recipe(unit="line", image_width=800, mix_synthetic=0.5).check_unit()
    with pytest.raises(RecipeError, match="unit: 'page' is not one of 'word', 'line'"):
        Recipe(unit="page")
