"""The recipe's TED-LIUM manifests load outside path.sh: .sph through libsndfile, no sph2pipe.

Each check runs a fresh interpreter of the project environment with none of path.sh's variables
(no LHOTSE_AUDIO_BACKEND, no PYTHONPATH), as a user's own script or notebook would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

LOAD = """
import sys
{prelude}
from lhotse import RecordingSet
rec = RecordingSet.from_file(sys.argv[1])[0]
print(rec.load_audio().shape[1])
"""


@pytest.fixture(scope="module")
def sph_manifest(tmp_path_factory) -> Path:
    """A one-recording manifest of a NIST SPHERE file written by sox (as the demo corpus is)."""
    from lhotse import Recording, RecordingSet
    from lhotse.audio import AudioSource

    d = tmp_path_factory.mktemp("sph")
    sph = d / "Talk_2001.sph"
    x = (np.sin(np.arange(8000) / 5.0) * 8000).astype("<i2")
    cmd = ["sox", "-R", "-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1"]
    subprocess.run(cmd + ["-", "-t", "sph", str(sph)], input=x.tobytes(), check=True)
    rec = Recording(
        id="Talk_2001",
        sources=[AudioSource(type="file", channels=[0], source=str(sph))],
        sampling_rate=16000,
        num_samples=8000,
        duration=0.5,
    )
    path = d / "recordings.jsonl.gz"
    RecordingSet.from_recordings([rec]).to_file(path)
    return path


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LHOTSE_AUDIO_BACKEND", "PYTHONPATH")}
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd="/", capture_output=True, text=True
    )


def test_lhotse_alone_fails_without_a_backend_choice(sph_manifest):
    """The failure being fixed: lhotse's default backend insists on sph2pipe for .sph."""
    r = _python(
        "import os; os.environ.pop('LHOTSE_AUDIO_BACKEND', None)\n" + LOAD.format(prelude=""),
        str(sph_manifest),
    )
    assert r.returncode != 0 and "sph2pipe" in r.stderr, r.stderr[-2000:]


def test_importing_asr2emo_selects_libsndfile(sph_manifest):
    r = _python(LOAD.format(prelude="import asr2emo"), str(sph_manifest))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["8000"]


def test_environment_loads_sph_without_importing_asr2emo(sph_manifest):
    """utils/setup_env.sh's .pth: a script that imports only lhotse reads the manifests too."""
    assert Path(sys.prefix).resolve() == (REPO / ".venv").resolve(), "run the tests in .venv"
    r = _python(LOAD.format(prelude=""), str(sph_manifest))
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["8000"]


def test_a_users_own_backend_choice_is_kept(sph_manifest):
    code = "import os; os.environ['LHOTSE_AUDIO_BACKEND'] = 'Sph2pipeSubprocessBackend'\n"
    r = _python(code + LOAD.format(prelude="import asr2emo"), str(sph_manifest))
    assert r.returncode != 0 and "sph2pipe" in r.stderr
