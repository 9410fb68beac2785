"""LF-MMI trainer on real audio (Kaldi yes/no): loss goes down, kill + resume continues from the
checkpoint and ends where an uninterrupted run ends, 2-process torchrun works."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from asr2emo.lfmmi.graph_compiler import MmiGraphCompiler
from asr2emo.lfmmi.loss import LfMmiLoss
from asr2emo.model.checkpoint import latest_checkpoint
from asr2emo.model.dataset import AsrDataset
from asr2emo.model.tdnnf import TdnnfModel, read_model_config
from asr2emo.model.trainer import compute_loss
from conftest import REPO, SHARED_DATA
from yesno import yesno_cuts, yesno_lang, yesno_split

YESNO = SHARED_DATA / "yesno" / "waves_yesno"
TINY = """--num-layers=7
--hidden-dim=48
--bottleneck-dim=16
--prefinal-dim=32
--time-strides=1,1,0,3,3,3
--dropout-schedule=0
"""
TRAIN = """--max-duration=20
--bucketing=false
--initial-lr=0.003
--final-lr=0.001
--require-ivectors=false
--log-interval=1
--average-n=2
"""

pytestmark = pytest.mark.skipif(not YESNO.is_dir(), reason=f"{YESNO} not present")


@pytest.fixture(scope="module")
def yesno(tmp_path_factory):
    d = tmp_path_factory.mktemp("yesno")
    train, test = yesno_split(YESNO)
    train_cuts = yesno_cuts(YESNO, d / "train", train[:12])
    valid_cuts = yesno_cuts(YESNO, d / "valid", test[:4])
    train_cuts.to_file(d / "train_cuts.jsonl.gz")
    valid_cuts.to_file(d / "valid_cuts.jsonl.gz")
    yesno_lang(d / "lang", [c.supervisions[0].text for c in train_cuts])
    (d / "tiny.conf").write_text(TINY)
    (d / "train.conf").write_text(TRAIN)
    return d


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "pysrc") + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    return e


def train_cmd(d: Path, exp: Path, *extra: str):
    return [
        sys.executable,
        "-m",
        "asr2emo",
        "train-lfmmi",
        "--config",
        str(d / "train.conf"),
        "--model-config",
        str(d / "tiny.conf"),
        *extra,
        str(d / "train_cuts.jsonl.gz"),
        str(d / "valid_cuts.jsonl.gz"),
        str(d / "lang"),
        str(exp),
    ]


def test_mmi_loss_decreases_over_a_few_steps(yesno):
    torch.manual_seed(0)
    from lhotse import CutSet

    cuts = CutSet.from_file(yesno / "train_cuts.jsonl.gz").subset(first=4)
    batch = AsrDataset(100, 10, require_ivectors=False)[cuts]
    loss_fn = LfMmiLoss(MmiGraphCompiler(yesno / "lang"))
    model = TdnnfModel(read_model_config(yesno / "tiny.conf"), loss_fn.graph_compiler.num_outputs)
    feats = batch["feats"].reshape(-1, 40)
    model.set_cmvn(feats.mean(0), feats.std(0))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for step in range(12):
        loss, frames, info = compute_loss(model, loss_fn, batch, torch.device("cpu"))
        opt.zero_grad()
        (loss / frames).backward()
        opt.step()
        if step % 4 == 3:
            model.constrain_orthonormal()
        losses.append(float(loss) / frames)
        assert info["num_failed"] == 0
    assert all(torch.isfinite(torch.tensor(losses)))
    # last/first over torch seeds 0-9 (2026-12-01): 0.088-0.109
    assert losses[-1] < 0.5 * losses[0], losses


def read_steps(exp: Path):
    with open(exp / "loss.csv") as f:
        return [int(r["step"]) for r in csv.DictReader(f) if r["train_loss"]]


def test_kill_and_resume_continues_from_the_checkpoint(yesno, tmp_path):
    extra = ("--num-epochs", "3", "--save-every-n", "4")
    ref = tmp_path / "uninterrupted"
    subprocess.run(train_cmd(yesno, ref, *extra), check=True, env=env(), capture_output=True)
    total = torch.load(ref / "epoch-3.pt")["step"]
    assert total >= 9

    exp = tmp_path / "killed"
    proc = subprocess.Popen(
        train_cmd(yesno, exp, *extra),
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while latest_checkpoint(exp) is None and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ckpt = latest_checkpoint(exp)
    assert ckpt is not None and not (exp / "final.pt").exists(), "killed too late"
    saved_step = torch.load(ckpt)["step"]
    assert 0 < saved_step < total

    out = subprocess.run(train_cmd(yesno, exp, *extra), env=env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"resuming from {ckpt}" in out.stderr and f"step {saved_step})" in out.stderr
    first_new = [s for s in read_steps(exp) if s > saved_step][0]
    assert first_new == saved_step + 1
    assert torch.load(exp / "epoch-3.pt")["step"] == total
    a = torch.load(ref / "final.pt")["model"]
    b = torch.load(exp / "final.pt")["model"]
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-4), k
    # A finished experiment is a no-op.
    again = subprocess.run(train_cmd(yesno, exp, *extra), env=env(), capture_output=True, text=True)
    assert again.returncode == 0 and "nothing to do" in again.stderr
    # Another setting: the finished model and its checkpoints are not reused; training restarts.
    more = extra + ("--initial-lr", "0.004")
    out = subprocess.run(train_cmd(yesno, exp, *more), env=env(), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "recomputing: --initial-lr 0.003 -> 0.004" in out.stderr, out.stderr[-2000:]
    assert "starting over" in out.stderr and "resuming from" not in out.stderr
    assert torch.load(exp / "final.pt")["model"].keys() == a.keys()


def test_two_process_torchrun_on_cpu(yesno, tmp_path):
    exp = tmp_path / "ddp"
    e = env()
    e["PATH"] = str(Path(sys.executable).parent) + os.pathsep + e["PATH"]
    conf = tmp_path / "ddp.conf"
    conf.write_text(TRAIN + "--num-epochs=1\n--max-duration=15\n")
    out = subprocess.run(
        [
            "bash",
            str(REPO / "steps" / "train_lfmmi.sh"),
            "--world-size",
            "2",
            "--model-config",
            str(yesno / "tiny.conf"),
            "--config",
            str(conf),
            str(yesno / "train_cuts.jsonl.gz"),
            str(yesno / "valid_cuts.jsonl.gz"),
            str(yesno / "lang"),
            str(exp),
        ],
        cwd=REPO,
        env=e,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert (exp / "final.pt").is_file() and (exp / ".done").is_file()
    assert (exp / "log" / "train.rank1.log").is_file()
    assert "x2" in (exp / "log" / "train.log").read_text()
    # Each rank saw half of the batches: 12 cuts of ~6 s, 15 s per batch -> 2 cuts per batch.
    ckpt = torch.load(exp / "epoch-1.pt")
    assert ckpt["step"] == 3
    # Both ranks' generators are saved (a resumed run redraws each rank's dropout/masks).
    rngs = ckpt["rng_ranks"]
    assert len(rngs) == 2 and not torch.equal(rngs[0]["torch"], rngs[1]["torch"])


def test_cmvn_file_of_the_training_corpus_is_used(tmp_path):
    import argparse

    import numpy as np

    from asr2emo.features.cmvn import GlobalCmvn
    from asr2emo.model.trainer import find_cmvn

    for name, offset in (("iemocap", 5.0), ("tedlium2", 1.0)):
        c = GlobalCmvn(3)
        c.accumulate(np.random.default_rng(0).standard_normal((100, 3)) + offset)
        c.save(tmp_path / f"{name}_cmvn.json")
    args = argparse.Namespace(
        cmvn="", train_cuts=str(tmp_path / "tedlium2_cuts_train_ivec.jsonl.gz")
    )
    found = find_cmvn(args, None)
    assert found["source"] == str(tmp_path / "tedlium2_cmvn.json")
    assert np.allclose(found["mean"], GlobalCmvn.load(tmp_path / "tedlium2_cmvn.json").mean)


def test_sampler_mixes_talks_across_a_set_larger_than_its_buffer(monkeypatch):
    """id-sorted cuts (talk, segment, speed copies side by side): the first batches of an epoch
    draw on talks from the whole set, not on the first ones (a 2000-cut buffer stands for the
    default 20000, with 10x fewer cuts than TED-LIUM)."""
    import random

    from lhotse import CutSet, MonoCut

    import asr2emo.model.dataset as dataset

    monkeypatch.setattr(dataset, "BUCKET_BUFFER", 2000)
    rng = random.Random(0)
    cuts = []
    for t in range(400):
        for s in range(25):
            d = rng.uniform(1, 15)
            for sp, f in (("", 1.0), ("_sp0.9", 1 / 0.9), ("_sp1.1", 1 / 1.1)):
                cuts.append(MonoCut(f"t{t:04d}-{s:02d}{sp}", 0, d * f, 0))
    sampler = dataset.make_sampler(CutSet.from_cuts(cuts), 300, True, True, 10, seed=42)
    sampler.set_epoch(1)
    seen = set()
    for i, batch in enumerate(sampler):
        seen.update(int(c.id[1:5]) for c in batch)
        if i == 40:  # ~12 % of the epoch
            break
    assert len(seen) > 300, len(seen)  # in sorted order: 45 of the 400 talks (measured)


def test_resumed_epoch_is_the_rest_of_the_sampler_and_torch_is_not_patched():
    import random

    from lhotse import CutSet, MonoCut

    from asr2emo.model.dataset import SkipBatches, make_sampler

    cuts = CutSet.from_cuts(
        [MonoCut(f"c{i:03d}", 0, random.Random(i).uniform(1, 5), 0) for i in range(60)]
    )
    for bucketing in (False, True):
        sampler = make_sampler(cuts, 20, True, bucketing, 3, seed=42)
        sampler.set_epoch(2)
        full = [[c.id for c in b] for b in sampler]
        sampler.set_epoch(2)
        assert [[c.id for c in b] for b in SkipBatches(sampler, 3)] == full[3:]
    # lhotse's samplers are made constructible on torch 1.13 without touching torch's Sampler
    assert "_OptionalDataSource" not in repr(torch.utils.data.Sampler.__init__.__qualname__)
