"""Cross-corpus emotion recognition (asr2emo.systems.cross_corpus) on synthetic corpora."""

import numpy as np
import pytest

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.train import HeadConfig
from asr2emo.systems.cross_corpus import (
    concat,
    parse_label_maps,
    parse_runs,
    relabel,
    run_cross,
    standardize,
)
from asr2emo.utils.errors import UserError

COMMON = ["angry", "happy", "neutral", "sad"]
IEMOCAP = "ang:angry,exc:happy,neu:neutral,sad:sad"


def _corpus(tmp_path, name, seed, offset=0.0, utts=10):
    data = load_frames(make_synthetic_cuts(tmp_path / name, utts_per_speaker=utts,
                                           separation=0.6, seed=seed))  # fmt: skip
    data.feats += offset  # a channel offset the per-corpus standardization must remove
    return data


def test_label_maps_and_runs_parse_and_reject_bad_specs():
    maps = parse_label_maps(f"iemocap={IEMOCAP}; urdu=angry:angry")
    assert maps["iemocap"]["exc"] == "happy" and maps["urdu"] == {"angry": "angry"}
    assert parse_runs("a->b; a+b->c") == [(["a"], "b"), (["a", "b"], "c")]
    for bad in ("iemocap", "iemocap=ang"):
        with pytest.raises(UserError):
            parse_label_maps(bad)
    for bad in ("a", "a->a", "->b"):
        with pytest.raises(UserError):
            parse_runs(bad)


def test_unknown_labels_are_one_line_errors_and_unmapped_ones_counted(tmp_path):
    data = _corpus(tmp_path, "a", 0)  # labels ang, exc, neu, sad
    with pytest.raises(UserError, match=r"label\(s\) xyz not in the corpus"):
        relabel(data, {"ang": "angry", "xyz": "sad"}, COMMON, "a")
    with pytest.raises(UserError, match="not among the common"):
        relabel(data, {"ang": "furious"}, COMMON, "a")
    r = relabel(data, {"ang": "angry", "sad": "sad"}, COMMON, "a")
    n_kept = int(np.isin(data.labels, [0, 3]).sum())
    assert r.num_utts == n_kept and sum(r.skipped.values()) == data.num_utts - n_kept
    assert set(np.asarray(COMMON)[r.labels]) == {"angry", "sad"}
    assert int(r.offsets[-1]) == int(data.num_frames()[np.isin(data.labels, [0, 3])].sum())


def test_standardize_and_concat(tmp_path):
    a = standardize(relabel(_corpus(tmp_path, "a", 0, offset=5.0), dict(
        zip(["ang", "exc", "neu", "sad"], COMMON)), COMMON, "a"))  # fmt: skip
    x = a.feats.double()
    assert (
        float(x.mean(0).abs().max()) < 1e-4
        and float((x.std(0, unbiased=False) - 1).abs().max()) < 1e-3
    )
    m = dict(zip(["ang", "exc", "neu", "sad"], COMMON))
    b = standardize(relabel(_corpus(tmp_path, "b", 1), m, COMMON, "b"))
    ab = concat({"a": a, "b": b})
    assert ab.num_utts == a.num_utts + b.num_utts and int(ab.offsets[-1]) == len(ab.feats)
    assert not set(ab.speakers[: a.num_utts]) & set(ab.speakers[a.num_utts :])
    assert not set(ab.sessions[: a.num_utts]) & set(ab.sessions[a.num_utts :])


def test_a_head_trained_on_one_corpus_recognizes_the_other(tmp_path):
    m = dict(zip(["ang", "exc", "neu", "sad"], COMMON))
    # the same class means (generator seed), other draws (12 utterances per speaker shift the
    # random stream after the first speaker's 10th) and a large channel offset
    a = standardize(relabel(_corpus(tmp_path, "a", 0), m, COMMON, "a"))
    b = standardize(relabel(_corpus(tmp_path, "b", 0, offset=3.0, utts=12), m, COMMON, "b"))
    cfg = HeadConfig(max_epochs=6, lr=1e-2, batch_size=256, patience=3, seed=3)
    res = run_cross({"a": a}, b, cfg)
    assert res.metrics["n"] == b.num_utts and res.val_speaker[2:] in a.speakers
    assert res.metrics["ua"] > 0.6  # chance 0.25


def test_two_sources_train_one_head_on_their_union(tmp_path):
    """A + B -> C: one head on both standardized sources (distinct speakers), C only scored."""
    m = dict(zip(["ang", "exc", "neu", "sad"], COMMON))
    a = standardize(relabel(_corpus(tmp_path, "a", 0), m, COMMON, "a"))
    b = standardize(relabel(_corpus(tmp_path, "b", 0, offset=-2.0, utts=11), m, COMMON, "b"))
    c = standardize(relabel(_corpus(tmp_path, "c", 0, offset=3.0, utts=12), m, COMMON, "c"))
    cfg = HeadConfig(max_epochs=6, lr=1e-2, batch_size=256, patience=3, seed=3)
    res = run_cross({"a": a, "b": b}, c, cfg)
    corpus, speaker = res.val_speaker.split("/", 1)
    assert corpus in ("a", "b") and speaker in {"a": a, "b": b}[corpus].speakers
    assert [p["id"] for p in res.predictions] == c.ids and res.metrics["n"] == c.num_utts
    assert res.metrics["ua"] > 0.9  # chance 0.25; head seeds 0-4: 0.971-1.000
