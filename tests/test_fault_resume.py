"""Fault suite: SIGKILL ``./run.sh --stage N --stop-stage N`` part-way, rerun the same
command, and check that it completes, that nothing the killed run left was taken for finished
work, and that the products equal those of an uninterrupted run (stages 0, 2, 3, 4 and 8, on the
micro demo corpora).

The uninterrupted run is ``faults.reference_pipeline`` (stages 1-4 and 6-8 once per session, with
LF-MMI shortened to 1 epoch and a checkpoint every 4 steps so that stage 4 has a mid-epoch resume
point). Each faulted run starts from a copy of the reference's inputs to its stage, so only that
stage runs twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_micro_conf
from faults import (
    appears,
    assert_arrays_equal,
    cut_arrays,
    jsonl_gz_records,
    leftover_temp_files,
    log_contains,
    model_state,
    new_work,
    recipe_cmd,
    reference_pipeline,
    run,
    run_and_kill,
    tree_digest,
)


@pytest.fixture(scope="session")
def ref(micro_stage0, tmp_path_factory) -> Path:
    return reference_pipeline(micro_stage0, tmp_path_factory)


def _no_traceback(log: str) -> None:
    assert "Traceback" not in log, log[-3000:]


def _complete_manifests(directory: Path, work: Path) -> None:
    """Every final-named manifest left in ``directory`` reads to its end (no truncated gzip)."""
    for p in directory.glob("*.jsonl.gz"):
        if ".tmp" not in p.name:
            jsonl_gz_records(p, work)


# ---------------------------------------------------------------------------------------------
# Stage 0: corpora -> manifests


def test_stage0_killed_while_writing_manifests(micro_stage0, tmp_path):
    """Killed after the first TED-LIUM manifest appeared: no .done, rerun == uninterrupted run."""
    # The rest of TED-LIUM's manifests and its marker follow the first manifest within
    # milliseconds; on a loaded machine the poller can wake after them. Such a late kill tests
    # nothing (and proves nothing wrong), so it is retried in a fresh directory.
    for attempt in range(4):
        work = tmp_path / f"attempt-{attempt}"
        conf = make_micro_conf(work / "conf")
        man = work / "data" / "manifests"
        cmd = recipe_cmd(work, conf, 0)
        r = run_and_kill(cmd, appears(man / "tedlium2_recordings_*.jsonl.gz"))
        assert r.killed, f"stage 0 ended before the kill point:\n{r.log[-2000:]}"
        if not (man / ".tedlium2.done").exists():
            break
    assert not (man / ".tedlium2.done").exists(), "every kill landed after TED-LIUM's marker"
    assert not (man / ".iemocap.done").exists()
    _complete_manifests(man, work)

    r2 = run(cmd)
    assert r2.returncode == 0, r2.stdout[-3000:]
    _no_traceback(r2.stdout)
    assert "Preparing TED-LIUM" in r2.stdout  # the partial manifests were not taken as done
    ref_man = micro_stage0 / "data" / "manifests"
    names = sorted(p.name for p in ref_man.glob("*.jsonl.gz"))
    assert names == sorted(p.name for p in man.glob("*.jsonl.gz"))
    for name in names:
        assert jsonl_gz_records(man / name, work) == jsonl_gz_records(
            ref_man / name, micro_stage0
        ), name
    # the demo corpora are the same bytes (seeded generator)
    assert tree_digest(work / "data" / "corpora") == tree_digest(micro_stage0 / "data" / "corpora")
    assert leftover_temp_files(work / "data") == []


# ---------------------------------------------------------------------------------------------
# Stage 2: MFCC + CMVN


def _same_stage2_products(work: Path, ref: Path) -> None:
    mf, ref_mf = work / "data" / "mfcc", ref / "data" / "mfcc"
    for part in ("train", "dev", "test"):
        name = f"tedlium2_cuts_{part}.jsonl.gz"
        assert jsonl_gz_records(mf / name, work) == jsonl_gz_records(ref_mf / name, ref), name
        assert_arrays_equal(cut_arrays(mf / name), cut_arrays(ref_mf / name))
    a = json.loads((mf / "tedlium2_cmvn.json").read_text())
    b = json.loads((ref_mf / "tedlium2_cmvn.json").read_text())
    assert a == b


# Other kill points (train part done, dev/test not: "tedlium2_feats_train/.done") pass too; they
# are left out to keep the suite short.
@pytest.mark.parametrize("kill_when", ["tedlium2_feats_train/feats.lca"])  # writing train features
def test_stage2_killed_part_way(ref, tmp_path, kill_when):
    work = new_work(ref, tmp_path, copy=["data/manifests"], link=["data/corpora"])
    mf = work / "data" / "mfcc"
    cmd = recipe_cmd(work, work / "conf", 2)
    r = run_and_kill(cmd, appears(mf / kill_when))
    assert r.killed, f"stage 2 ended before the kill point:\n{r.log[-2000:]}"
    assert not (mf / "tedlium2_feats_test" / ".done").exists()
    _complete_manifests(mf, work)

    r2 = run(cmd)
    assert r2.returncode == 0, r2.stdout[-3000:]
    _no_traceback(r2.stdout)
    _same_stage2_products(work, ref)
    assert leftover_temp_files(mf) == []


# ---------------------------------------------------------------------------------------------
# Stage 3: i-vector extractor + online i-vectors


def _same_stage3_products(work: Path, ref: Path) -> None:
    import torch

    for name in ("final.pca", "final.ubm", "final.ie"):
        a = torch.load(work / "exp" / "ivector" / name, map_location="cpu")
        b = torch.load(ref / "exp" / "ivector" / name, map_location="cpu")
        assert a.keys() == b.keys(), name
        for k in a:
            np.testing.assert_array_equal(np.asarray(a[k]), np.asarray(b[k]), err_msg=f"{name}:{k}")
    mf, ref_mf = work / "data" / "mfcc", ref / "data" / "mfcc"
    for part in ("train", "dev", "test"):
        name = f"tedlium2_cuts_{part}_ivec.jsonl.gz"
        assert_arrays_equal(cut_arrays(mf / name, "ivector"), cut_arrays(ref_mf / name, "ivector"))


@pytest.mark.parametrize(
    "kill_when",
    [
        # ("log", "T-matrix iteration 1") (in the extractor's EM) passes too; left out for time
        ("file", "data/mfcc/tedlium2_cuts_train_ivec_ivectors/ivector-0.lca"),  # extracting
    ],
    ids=["extraction"],
)
def test_stage3_killed_part_way(ref, tmp_path, kill_when):
    parts = [f"data/mfcc/tedlium2_cuts_{p}.jsonl.gz" for p in ("train", "dev", "test")]
    work = new_work(ref, tmp_path, copy=parts)
    kind, what = kill_when
    if kind == "log":
        when = log_contains(work / "exp" / "ivector" / "log" / "train_ivector_extractor.log", what)
    else:
        when = appears(work / what)
    cmd = recipe_cmd(work, work / "conf", 3)
    r = run_and_kill(cmd, when)
    assert r.killed, f"stage 3 ended before the kill point:\n{r.log[-2000:]}"
    mf = work / "data" / "mfcc"
    if kind == "log":
        assert not (work / "exp" / "ivector" / ".done").exists()
    assert not (mf / ".tedlium2_cuts_test_ivec.done").exists()
    _complete_manifests(mf, work)

    r2 = run(cmd)
    assert r2.returncode == 0, r2.stdout[-3000:]
    _no_traceback(r2.stdout)
    _same_stage3_products(work, ref)
    assert leftover_temp_files(work / "exp") == [] and leftover_temp_files(mf) == []


# ---------------------------------------------------------------------------------------------
# Stage 4: LF-MMI training


@pytest.mark.slow
def test_stage4_killed_after_a_mid_epoch_checkpoint(ref, tmp_path):
    """Killed once checkpoint-4.pt is committed (``last_checkpoint`` names it): the rerun resumes
    there and ends with the same model. (A kill between the checkpoint's rename and the pointer
    update restarts from the previous checkpoint, which is also correct but not this test.)"""
    inputs = [f"data/mfcc/tedlium2_cuts_{p}_ivec.jsonl.gz" for p in ("train", "dev")]
    work = new_work(ref, tmp_path, copy=inputs + ["data/mfcc/tedlium2_cmvn.json", "data/lang"])
    tdnnf = work / "exp" / "tdnnf"
    cmd = recipe_cmd(work, work / "conf", 4)
    r = run_and_kill(cmd, log_contains(tdnnf / "last_checkpoint", "checkpoint-4.pt"))
    assert r.killed, f"stage 4 ended before the kill point:\n{r.log[-2000:]}"
    assert not (tdnnf / ".done").exists() and not (tdnnf / "final.pt").exists()

    r2 = run(cmd)
    assert r2.returncode == 0, r2.stdout[-3000:]
    _no_traceback(r2.stdout)
    assert "resuming from" in r2.stdout and "checkpoint-" in r2.stdout
    a, b = model_state(tdnnf / "final.pt"), model_state(ref / "exp" / "tdnnf" / "final.pt")
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    assert leftover_temp_files(tdnnf) == []


# ---------------------------------------------------------------------------------------------
# Stage 8: emotion head cross-validation


def test_stage8_killed_between_folds(ref, tmp_path):
    """Killed once fold 2 is done: the rerun reuses folds 1-2, redoes the rest, same metrics."""
    work = new_work(ref, tmp_path, copy=["exp/bottleneck"], link=["exp/tdnnf", "exp/ivector"])
    emo = work / "exp" / "emotion"
    cmd = recipe_cmd(work, work / "conf", 8)
    r = run_and_kill(cmd, appears(emo / "tdnnf12" / "fold-2" / ".done"))
    assert r.killed, f"stage 8 ended before the kill point:\n{r.log[-2000:]}"
    layer = emo / "tdnnf12"
    assert not (layer / ".done").exists() and not (layer / "metrics.json").exists()
    assert not (emo / "model" / ".done").exists()

    r2 = run(cmd)
    assert r2.returncode == 0, r2.stdout[-3000:]
    _no_traceback(r2.stdout)
    a = json.loads((layer / "metrics.json").read_text())
    b = json.loads((ref / "exp" / "emotion" / "tdnnf12" / "metrics.json").read_text())
    assert a == b
    for fold in range(1, 6):
        p = f"tdnnf12/fold-{fold}/predictions.jsonl"
        assert (emo / p).read_text() == (ref / "exp" / "emotion" / p).read_text(), p
    assert leftover_temp_files(emo) == []
