"""Stage 7 extraction: per-layer cuts with a 30 ms TemporalArray, values equal to the model's,
chunking-independent, idempotent, and one clear error for an unknown layer."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from lhotse import CutSet

from asr2emo.cli import main as cli
from asr2emo.model import load_model
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel, config_to_dict
from conftest import REPO, SHARED_DATA
from yesno import yesno_cuts

YESNO = SHARED_DATA / "yesno" / "waves_yesno"
pytestmark = pytest.mark.skipif(not YESNO.is_dir(), reason=f"{YESNO} not present")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("bn")
    cuts = yesno_cuts(YESNO, d / "mfcc", sorted(YESNO.glob("*.wav"))[:3])
    # Three ~6 s cuts (~200 frames each): several chunks of 7 output frames per cut.
    cuts.to_file(d / "cuts.jsonl.gz")
    torch.manual_seed(0)
    config = TdnnfConfig(num_layers=13, hidden_dim=32, bottleneck_dim=8, prefinal_dim=16)
    model = TdnnfModel(config, 5)
    model.train()
    with torch.no_grad():  # non-trivial batchnorm statistics
        model(torch.randn(2, 200, 40) * 5, torch.randn(2, 20, 100))
    feats = torch.from_numpy(np.concatenate([c.load_features() for c in cuts]))
    model.set_cmvn(feats.mean(0), feats.std(0))
    ckpt = {"model": model.state_dict(), "model_config": config_to_dict(config), "num_outputs": 5}
    torch.save(ckpt, d / "final.pt")
    return d


def extract(d, out, *extra):
    """Exact (numpy) storage unless the caller asks for another."""
    if "--storage" not in extra:
        extra = ("--storage", "numpy") + extra
    return cli(
        [
            "extract-bottleneck",
            "--require-ivectors",
            "false",
            *extra,
            str(d),
            str(d / "cuts.jsonl.gz"),
            str(out),
        ]
    )


def test_layers_written_as_temporal_arrays(setup, tmp_path):
    out = tmp_path / "bn"
    assert extract(setup, out, "--layers", "tdnnf12,prefinal,tdnn1", "--chunk-size", "50") == 0
    model = load_model(setup)
    src = CutSet.from_file(setup / "cuts.jsonl.gz")
    for layer, dim in (("tdnnf12", 32), ("prefinal", 16), ("tdnn1", 32)):
        assert (out / layer / ".done").is_file()
        cuts = CutSet.from_file(out / layer / "cuts.jsonl.gz")
        assert [c.id for c in cuts] == [c.id for c in src]
        for cut, orig in zip(cuts, src):
            assert cut.supervisions == orig.supervisions
            arr = cut.bottleneck
            assert arr.frame_shift == pytest.approx(0.03) and arr.temporal_dim == 0
            T = orig.load_features().shape[0]
            assert arr.shape == [(T + 2) // 3, dim]
            stored = cut.load_custom("bottleneck")
            feats = torch.from_numpy(orig.load_features()).unsqueeze(0)
            ref = model.extract(feats, torch.zeros(1, (T + 9) // 10, 100), layer)[0].numpy()
            n = stored.shape[0]
            assert n >= arr.shape[0] - 1  # lhotse may drop a last partial 30 ms frame
            assert np.allclose(stored, ref[:n], atol=1e-5)


def test_chunked_equals_whole_utterance(setup, tmp_path):
    assert extract(setup, tmp_path / "whole", "--layers", "tdnnf12", "--chunk-size", "0") == 0
    assert extract(setup, tmp_path / "chunk", "--layers", "tdnnf12", "--chunk-size", "7") == 0
    whole = CutSet.from_file(tmp_path / "whole" / "tdnnf12" / "cuts.jsonl.gz")
    chunk = CutSet.from_file(tmp_path / "chunk" / "tdnnf12" / "cuts.jsonl.gz")
    for a, b in zip(whole, chunk):
        x, y = a.bottleneck.load(), b.bottleneck.load()
        assert x.shape == y.shape and x.shape[0] > 7 * 10
        assert np.allclose(x, y, atol=1e-5)


def test_rerun_is_noop_and_unknown_layer_is_one_line(setup, tmp_path):
    out = tmp_path / "bn"
    assert extract(setup, out, "--layers", "tdnnf13") == 0
    stamp = (out / "tdnnf13" / "cuts.jsonl.gz").stat().st_mtime_ns
    assert extract(setup, out, "--layers", "tdnnf13") == 0
    assert (out / "tdnnf13" / "cuts.jsonl.gz").stat().st_mtime_ns == stamp
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "asr2emo",
            "extract-bottleneck",
            "--layers",
            "tdnnf12,layer12",
            "--require-ivectors",
            "false",
            str(setup),
            str(setup / "cuts.jsonl.gz"),
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO / "pysrc"), "PATH": "/usr/bin"},
    )
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    assert "unknown layer 'layer12'" in last and "tdnn1, tdnnf2" in last and "prefinal" in last
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "x" / "tdnnf12" / ".done").exists()


def test_lilcom_storage_is_close(setup, tmp_path):
    pytest.importorskip("lilcom")
    assert extract(setup, tmp_path / "exact", "--layers", "tdnnf12") == 0
    assert extract(setup, tmp_path / "lossy", "--layers", "tdnnf12", "--storage", "lilcom") == 0
    exact = CutSet.from_file(tmp_path / "exact" / "tdnnf12" / "cuts.jsonl.gz")
    lossy = CutSet.from_file(tmp_path / "lossy" / "tdnnf12" / "cuts.jsonl.gz")
    for a, b in zip(exact, lossy):
        x, y = a.load_custom("bottleneck"), b.load_custom("bottleneck")
        assert b.bottleneck.array.storage_type == "lilcom_chunky" and x.shape == y.shape
        assert np.abs(x - y).max() < 0.05 * np.abs(x).max()
