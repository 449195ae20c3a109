"""Shared fixtures: the package from this source tree, the demo photos, LFW.

Environment: FACEREC_LIBRARY (libfacerec to test; default: see facerec/_lib.py),
FACEREC_MODELS (the models folder; default: models/ of the source tree, as the library
looks), FACEREC_DATA (the shared data folder with lfw-deepfunneled; default ../shared/data
beside the repository, as scripts/benchmarks.sh). Tests that need absent data skip."""
import json
import os
import pathlib
import sys

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
sys.path.insert(0, str(PYTHON_DIR))

MODELS = pathlib.Path(os.environ.get("FACEREC_MODELS", REPO / "models"))
DEMO = MODELS / "face-api" / "demo"
FIXTURES = REPO / "tests" / "data" / "faceapi"
DATA = pathlib.Path(os.environ.get("FACEREC_DATA", REPO.parent / "shared" / "data"))
LFW = DATA / "lfw-deepfunneled"


@pytest.fixture(scope="session")
def demo():
    """path of a face-api demo photo by name ("sample1")."""
    if not (DEMO / "sample1.jpg").exists():
        pytest.skip(f"the face-api demo photos are absent in {DEMO} (scripts/setup.sh)")
    return lambda name: str(DEMO / f"{name}.jpg")


@pytest.fixture(scope="session")
def faceapi_fixture():
    """face-api.js's output on a demo photo (tests/data/faceapi/<name>.json)."""
    def load(name):
        with open(FIXTURES / f"{name}.json") as f:
            return json.load(f)
    return load


@pytest.fixture(scope="session")
def lfw():
    """path of an LFW photo: lfw("George_W_Bush", 1)."""
    if not LFW.is_dir():
        pytest.skip(f"LFW absent: {LFW} (set FACEREC_DATA to the shared data folder)")
    return lambda person, i: str(LFW / person / f"{person}_{i:04d}.jpg")
