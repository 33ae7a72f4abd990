import os
import shutil
import tempfile
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# A lexicon cache of this test session's own (hwr.decoding.lexicon_cache), inherited by every process the
# tests start: it starts empty, as on a fresh machine, and leaves the user's ~/.cache alone.
TEST_CACHE_DIR = tempfile.mkdtemp(prefix="hwr-test-cache-")
os.environ["HWR_CACHE_DIR"] = TEST_CACHE_DIR


def pytest_sessionfinish(session, exitstatus):
    shutil.rmtree(TEST_CACHE_DIR, ignore_errors=True)


@pytest.fixture
def project_dir() -> Path:
    return PROJECT_DIR


@pytest.fixture(scope="module")
def client(workdir):
    """A client of the module's tracking store (its `workdir` fixture's), also set as mlflow's."""
    import mlflow
    from mlflow.tracking import MlflowClient

    from tests.processes import environment

    uri = environment(workdir)["MLFLOW_TRACKING_URI"]
    mlflow.set_tracking_uri(uri)
    yield MlflowClient(uri)
    mlflow.set_tracking_uri(None)
