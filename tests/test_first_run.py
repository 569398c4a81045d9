"""A first run on a fresh machine: the embedding model is exported to ONNX once, with one line that says
so and not the exporter's warnings or the weights loader's bars, and the int8 export finishes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MAIN = "import sys; from assistant.surfaces.cli import main; sys.exit(main(sys.argv[1:]))"


def mcdewey(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MAIN, *args], capture_output=True, text=True, env=env,
                          timeout=400, check=False)


def test_first_ingest_with_an_empty_model_cache_prints_no_python_warning(tmp_path: Path) -> None:
    doc = tmp_path / "lib" / "acme" / "1.0" / "guide"
    doc.mkdir(parents=True)
    (doc / "guide.txt").write_text("Acme Router Guide\n\nThe routing table is declared in the channel block.\n")
    models = tmp_path / "models"
    env = {**os.environ, "MCDEWEY_MODEL_CACHE": str(models)}
    args = ("ingest", "--library", str(tmp_path / "lib"), "--data", str(tmp_path / "data"))
    first = mcdewey(*args, env=env)
    assert first.returncode == 0, first.stderr
    for noise in ("Warning", "Traceback", "Loading weights", "it/s"):
        assert noise not in first.stderr, first.stderr
    assert "preparing the embedding model for this machine (once, about 20 s)…" in first.stderr.splitlines()
    assert list(models.glob("*/model.onnx"))
    again = mcdewey(*args, "--force", env=env)  # embeds again, with the export already made
    assert again.returncode == 0, again.stderr
    assert "preparing the embedding model" not in again.stderr and "embedding:" in again.stderr


def test_int8_export_into_an_empty_cache_finishes(tmp_path: Path) -> None:
    # It holds the cache's lock while it needs the fp32 export, which takes the same lock: that waited forever.
    code = ("import sys; from pathlib import Path; from indexing.onnx_export import onnx_model_path; "
            "print(onnx_model_path('onnx-int8', Path(sys.argv[1])))")
    try:
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "models")], capture_output=True,
                              text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the int8 export into an empty cache did not finish in 5 minutes")
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()).name == "model-int8.onnx"
    assert list((tmp_path / "models").glob("*/model.onnx")) and "Warning" not in done.stderr
