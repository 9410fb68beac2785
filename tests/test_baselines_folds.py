"""Baselines use exactly stage 8's folds: same test utterance ids and validation speakers."""

import json
import math

import numpy as np
import pytest
from lhotse import AudioSource, Recording, RecordingSet, SupervisionSet

from asr2emo.baselines.classical import ClassicalConfig, metrics_from_records, run_folds
from asr2emo.baselines.folds import (
    check_against_stage8,
    fold_test_ids,
    read_stage8_test_ids,
    read_stage8_val_speakers,
    restrict_to_stage8,
    stage8_folds,
)
from asr2emo.baselines.utterances import table_from_manifests
from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.train import HeadConfig, cross_validate
from asr2emo.utils.errors import UserError

SEED = 7
CFG = HeadConfig(max_epochs=2, lr=1e-2, batch_size=256, patience=2, seed=SEED)


def _manifests(cuts):
    """The cuts' supervisions + placeholder recordings: what stage 0 would have written."""
    sups = [c.supervisions[0] for c in cuts]
    recs = [
        Recording(
            id=s.recording_id,
            sources=[AudioSource(type="file", channels=[0], source=f"/nonexistent/{s.id}.wav")],
            sampling_rate=16000,
            num_samples=int(s.duration * 16000),
            duration=s.duration,
        )
        for s in sups
    ]
    return RecordingSet.from_recordings(recs), SupervisionSet.from_segments(sups)


@pytest.fixture(scope="module")
def stage8(tmp_path_factory):
    """Stage 8 run on a synthetic micro corpus with uneven speakers (so the seed matters)."""
    tmp = tmp_path_factory.mktemp("s8")
    cuts = make_synthetic_cuts(tmp / "bn", num_sessions=4, utts_per_speaker=14, seed=3)
    # uneven speakers: drop some utterances of a few speakers (val-speaker draw depends on counts)
    drop = {c.id for c in cuts if c.supervisions[0].speaker in ("Ses02M", "Ses03F")}
    cuts = cuts.filter(lambda c: c.id not in list(drop)[:9])
    metrics = cross_validate(load_frames(cuts), "tdnnf12", tmp / "emotion" / "tdnnf12", CFG)
    return cuts, tmp / "emotion", metrics


def test_same_test_ids_and_val_speakers_as_stage8(stage8):
    cuts, emo, _ = stage8
    # manifests in another order than the bottleneck cuts: folds are sets of ids
    recs, sups = _manifests(list(cuts)[::-1])
    table = table_from_manifests(recs, sups)
    folds = stage8_folds(table, SEED)
    ours = fold_test_ids(folds, table.ids)
    theirs = read_stage8_test_ids(emo)["tdnnf12"]
    assert ours == theirs  # independent: read back from stage 8's predictions.jsonl
    assert sorted(ours) == [1, 2, 3, 4] and sum(len(v) for v in ours.values()) == len(cuts)
    val = read_stage8_val_speakers(emo)
    assert val["tdnnf12"] == {f.fold: f.val_speaker for f in folds}
    assert check_against_stage8(
        ours, {"tdnnf12": theirs}, {f.fold: f.val_speaker for f in folds}, val
    ) == ["tdnnf12"]


def test_moved_utterance_or_other_seed_is_an_error(stage8):
    cuts, emo, _ = stage8
    recs, sups = _manifests(cuts)
    table = table_from_manifests(recs, sups)
    folds = stage8_folds(table, SEED)
    ours = fold_test_ids(folds, table.ids)
    moved = {k: set(v) for k, v in ours.items()}
    u = sorted(moved[1])[0]
    moved[1].remove(u)
    moved[2].add(u)
    with pytest.raises(UserError, match="fold 1 differs"):
        check_against_stage8(moved, read_stage8_test_ids(emo))
    # some seed gives another validation speaker somewhere: detected through history.json
    val8 = read_stage8_val_speakers(emo)
    for other in range(100):
        vals = {f.fold: f.val_speaker for f in stage8_folds(table, other)}
        if vals != val8["tdnnf12"]:
            break
    with pytest.raises(UserError, match="validation speaker"):
        check_against_stage8(ours, read_stage8_test_ids(emo), vals, val8)


def test_utterances_stage8_skipped_are_left_out(stage8):
    cuts, emo, _ = stage8
    recs, sups = _manifests(cuts)
    # one labelled utterance stage 8 never saw (e.g. too short for features)
    extra = sups[0].with_offset(0.0)
    extra.id = extra.recording_id = "Ses01F_impro09_F099"
    recs2 = RecordingSet.from_recordings(
        list(recs)
        + [
            Recording(
                id=extra.id,
                sources=recs[0].sources,
                sampling_rate=16000,
                num_samples=16000,
                duration=1.0,
            )
        ]
    )
    table = table_from_manifests(recs2, SupervisionSet.from_segments(list(sups) + [extra]))
    assert extra.id in table.ids
    kept = restrict_to_stage8(table, read_stage8_test_ids(emo))
    assert extra.id not in kept.ids and kept.num_utts == len(cuts)
    check_against_stage8(
        fold_test_ids(stage8_folds(kept, SEED), kept.ids), read_stage8_test_ids(emo)
    )


def test_metrics_schema_matches_stage8(stage8):
    """Our metrics on stage 8's own decisions reproduce stage 8's metrics.json numbers."""
    _, emo, m8 = stage8
    folds = {}
    for k in range(1, 5):
        lines = (emo / "tdnnf12" / f"fold-{k}" / "predictions.jsonl").read_text().splitlines()
        recs = [json.loads(x) for x in lines]
        folds[k] = [{**r, "pred": r["pred"]["sum_softmax"]} for r in recs]
    ours = metrics_from_records("x", folds, m8["classes"])
    for key in ("ua", "wa", "ua_fold_mean", "wa_fold_mean", "n"):
        assert math.isclose(ours[key], m8[key]), key
    assert ours["per_class_recall"] == m8["per_class_recall"]
    assert ours["folds"] == m8["folds"]


def test_classifiers_train_outside_the_test_session(stage8):
    cuts, _, _ = stage8
    recs, sups = _manifests(cuts)
    table = table_from_manifests(recs, sups)
    folds = stage8_folds(table, SEED)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(table.num_utts, 5)) + table.labels[:, None]
    cfg = ClassicalConfig(train_on="train", seed=SEED)
    fitted = {}
    recs_by_fold = run_folds(x, table, folds, "logreg", cfg, fitted)
    for f in folds:
        assert fitted[f.fold].named_steps["scaler"].n_samples_seen_ == len(f.train)
        assert {r["id"] for r in recs_by_fold[f.fold]} == {table.ids[i] for i in f.test}
