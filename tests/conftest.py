"""Shared fixtures: repository paths and tiny audio writers (data made on the fly)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("LHOTSE_AUDIO_BACKEND", "LibsndfileBackend")


def write_tone(
    path: Path, seconds: float, sr: int = 16000, fmt: str = "WAV", seed: int = 0
) -> Path:
    """A short harmonic tone with a little noise (speech-like enough for parsers and features)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 150 * t) + 0.1 * np.sin(2 * np.pi * 450 * t)
    x += 0.01 * rng.standard_normal(t.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x.astype(np.float32), sr, format=fmt, subtype="PCM_16")
    return path


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present")
    return SHARED_DATA


def make_micro_conf(dest: Path) -> Path:
    """conf/mini with the demo corpora at "micro" size: the conf dir of the pipeline tests."""
    import shutil

    shutil.copytree(REPO / "conf" / "mini", dest)
    demo = dest / "demo.conf"
    lines = [ln for ln in demo.read_text().splitlines() if not ln.startswith("--size=")]
    demo.write_text("\n".join(lines + ["--size=micro", "--nj=1"]) + "\n")
    return dest


def run_recipe(workdir: Path, *args: str, timeout: int = 900):
    """./run.sh in the repository with data/exp under ``workdir`` and the micro conf."""
    import subprocess

    conf = workdir / "conf"
    if not conf.exists():
        make_micro_conf(conf)
    cmd = [
        "./run.sh",
        "--conf-dir",
        str(conf),
        "--data-dir",
        str(workdir / "data"),
        "--exp-dir",
        str(workdir / "exp"),
        "--nj",
        "1",
        *args,
    ]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def micro_stage0(tmp_path_factory) -> Path:
    """A work dir where run.sh stage 0 has run on the micro demo corpora (shared by tests)."""
    work = tmp_path_factory.mktemp("micro_recipe")
    r = run_recipe(work, "--stage", "0", "--stop-stage", "0")
    assert r.returncode == 0, r.stderr[-3000:]
    (work / "stage0.log").write_text(r.stderr)
    return work
