"""The package's layers, as the README's architecture page draws them: each sub-package imports only
those below it, and only the pipeline and serving layers talk to MLflow."""

import ast
import pickle
from pathlib import Path

HWR = Path(__file__).resolve().parents[1] / "hwr"
# What each sub-package may import of hwr, besides the shared errors and runtime modules.
ALLOWED = {
    "data": {"data"},
    "model": {"data", "model"},
    "decoding": {"data", "model", "decoding"},
    "training": {"data", "model", "decoding", "evaluation", "training"},
    "serving": {"data", "model", "decoding", "serving"},
    "evaluation": {"data", "decoding", "serving", "evaluation"},
    "pipeline": {"data", "model", "decoding", "training", "serving", "evaluation", "pipeline"},
}
TALKS_TO_MLFLOW = {"pipeline", "serving"}


def imports(path: Path) -> set[str]:
    """Every module `path` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules():
    for path in sorted(HWR.rglob("*.py")):
        parts = path.relative_to(HWR).parts
        if len(parts) > 1:
            yield parts[0], path


def test_every_module_lives_in_a_layer():
    assert {layer for layer, _ in modules()} == set(ALLOWED)
    loose = {p.name for p in HWR.glob("*.py")}
    assert loose == {"__init__.py", "errors.py", "runtime.py", "pyfunc.py"}


def test_layers_import_only_the_layers_below():
    wrong = []
    for layer, path in modules():
        for name in imports(path):
            parts = name.split(".")
            if parts[0] == "hwr" and len(parts) > 1 and parts[1] in ALLOWED and parts[1] not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(HWR)} imports {name}")
    assert wrong == []


def test_only_the_pipeline_and_serving_import_mlflow():
    talking = {str(path.relative_to(HWR)) for layer, path in modules()
               if any(name.split(".")[0] == "mlflow" for name in imports(path))}
    assert talking and all(name.split("/")[0] in TALKS_TO_MLFLOW for name in talking), sorted(talking)


def test_models_logged_before_the_sub_packages_still_unpickle():
    # A logged model pickles its python_model by reference; older ones name hwr.pyfunc.HwrModel.
    from hwr.serving.pyfunc import HwrModel

    assert pickle.loads(b"\x80\x04chwr.pyfunc\nHwrModel\n.") is HwrModel
