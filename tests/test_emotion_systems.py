"""The emotion systems beyond the paper (asr2emo.systems) on synthetic bottlenecks: stage 8's
folds, layer weights that are a distribution, fusion fitted on validation speakers only."""

import json

import numpy as np
import pytest
import torch

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.folds import make_folds
from asr2emo.emotion.train import HeadConfig, cross_validate
from asr2emo.systems import fusion
from asr2emo.systems.fusion import Scores, fit_weight, fuse
from asr2emo.systems.heads import LayerMixHead, UtteranceHeadConfig
from asr2emo.systems.pooling import AttentiveStatsPooling, utterance_stats
from asr2emo.systems.report import write_report
from asr2emo.systems.run import CANDIDATES, INNER_CANDIDATES, SystemsConfig, run_fold
from asr2emo.utils.errors import UserError

HEAD = HeadConfig(max_epochs=6, lr=1e-2, batch_size=256, patience=3, seed=3)
FAST = SystemsConfig(head=UtteranceHeadConfig(max_epochs=8, patience=3, lr=3e-3, batch_size=8))


@pytest.fixture(scope="module")
def stage8(tmp_path_factory):
    """Synthetic bottlenecks, stage 8 run on them, and two 'layers' of utterance statistics."""
    tmp = tmp_path_factory.mktemp("systems")
    cuts = make_synthetic_cuts(tmp / "bn", utts_per_speaker=10, separation=0.6, seed=2)
    data = load_frames(cuts)
    metrics = cross_validate(data, "tdnnf12", tmp / "emotion" / "tdnnf12", HEAD)
    rng = np.random.default_rng(0)
    own = np.stack([utterance_stats(data.feats[a:b].numpy()) for a, b in
                    zip(data.offsets[:-1], data.offsets[1:])])  # fmt: skip
    noise = rng.standard_normal(own.shape).astype(np.float32)
    stats = torch.from_numpy(np.stack([noise, own], axis=1))
    # "eGeMAPS": a weakly informative utterance feature
    egemaps = rng.standard_normal((data.num_utts, 6)) + 0.8 * np.eye(4)[data.labels] @ np.ones(
        (4, 6)
    )
    return tmp, data, metrics, stats, egemaps


def test_every_system_on_stage8_folds_and_the_choice_from_validation_only(stage8):
    tmp, data, metrics, stats, egemaps = stage8
    folds = make_folds(data.sessions, data.speakers, HEAD.seed)
    results = {}
    for fold in folds:
        head = tmp / "emotion" / "tdnnf12" / f"fold-{fold.fold}" / "head.pt"
        r = run_fold(fold, data, stats, egemaps, head, FAST, HEAD.seed)
        val_ids = [data.ids[u] for u in fold.val]
        test_ids = [data.ids[u] for u in fold.test]
        for name in CANDIDATES + ("selected",):
            assert r[name]["val"].ids == val_ids and r[name]["test"].ids == test_ids, name
            np.testing.assert_allclose(r[name]["test"].posteriors.sum(axis=1), 1.0, atol=1e-6)
        w = np.asarray(r["layer_mix"]["info"]["layer_weights"])
        assert w.shape == (2,) and np.all(w >= 0) and abs(w.sum() - 1) < 1e-6
        info = r["selected"]["info"]
        assert info["selection"] == "inner-cv" and set(info["val_uas"]) == set(INNER_CANDIDATES)
        assert info["val_uas"][info["chosen"]] == max(info["val_uas"].values())
        # the stage-8 heads rescored reproduce stage 8's test decisions
        recs = [json.loads(x) for x in (head.parent / "predictions.jsonl").read_text().splitlines()]
        paper = r["paper"]["test"].posteriors.argmax(axis=1)
        assert [data.classes[p] for p in paper] == [x["pred"]["sum_softmax"] for x in recs]
        from asr2emo.systems.run import fold_json

        results[fold.fold] = json.loads(json.dumps(fold_json(r)))
    comp = write_report(tmp / "out", data, results, metrics, "tdnnf12", ["noise", "own"], None, {})
    assert set(comp["chosen"]) == {str(f.fold) for f in folds}
    assert (tmp / "out" / "comparison.md").is_file() and (
        tmp / "out" / "layer_weights.png"
    ).is_file()
    # the mixture learns to prefer the informative 'layer' over the noise on average
    mean_w = np.mean([w for w in comp["layer_weights"].values()], axis=0)
    assert mean_w[1] > mean_w[0]


def test_fusion_weight_refuses_test_utterances():
    # both right only for w > 0.844 (u2): of 0.9 and 1.0, the one nearer 0.5
    a = Scores(["u1", "u2"], np.array([[0.9, 0.1], [0.4, 0.6]]))
    b = Scores(["u1", "u2"], np.array([[0.1, 0.9], [0.9, 0.1]]))
    assert fit_weight(a, b, [0, 1], ["x", "y"], test_ids=["u3"]) == 0.9
    with pytest.raises(UserError, match="test utterance"):
        fit_weight(a, b, [0, 1], ["x", "y"], test_ids=["u2", "u9"])


def test_run_fold_fits_fusion_on_validation_ids(stage8, monkeypatch):
    """A spy on the fusion fit: it sees training-session utterances only (the validation
    speaker's, or every training-session utterance's inner-CV scores), never a test one."""
    tmp, data, metrics, stats, egemaps = stage8
    seen = []
    real = fusion.fit_weight

    def spy(val_a, val_b, labels, classes, test_ids, **kw):
        seen.append((set(val_a.ids) | set(val_b.ids), set(test_ids)))
        return real(val_a, val_b, labels, classes, test_ids, **kw)

    monkeypatch.setattr("asr2emo.systems.run.fit_weight", spy)
    fold = make_folds(data.sessions, data.speakers, HEAD.seed)[0]
    head = tmp / "emotion" / "tdnnf12" / f"fold-{fold.fold}" / "head.pt"
    run_fold(fold, data, stats, egemaps, head, FAST, HEAD.seed)
    val = {data.ids[u] for u in fold.val}
    training = val | {data.ids[u] for u in fold.train}
    test = {data.ids[u] for u in fold.test}
    assert len(seen) == 3
    for fitted, test_ids in seen:
        assert test_ids == test and not fitted & test and fitted <= training
    assert sorted(len(f) for f, _ in seen) == [len(val), len(training), len(training)]


def test_fuse_is_log_linear_and_normalized():
    a = Scores(["u"], np.array([[0.7, 0.3]]))
    b = Scores(["u"], np.array([[0.2, 0.8]]))
    p = fuse(a, b, 0.5).posteriors[0]
    ref = np.sqrt([0.7 * 0.2, 0.3 * 0.8])
    np.testing.assert_allclose(p, ref / ref.sum())
    np.testing.assert_allclose(fuse(a, b, 1.0).posteriors, a.posteriors)


def test_attentive_pooling_ignores_padding_and_matches_weighted_statistics():
    torch.manual_seed(0)
    pool = AttentiveStatsPooling(3, 4)
    x = torch.randn(1, 5, 3)
    mask = torch.tensor([[True, True, True, False, False]])
    padded = x.clone()
    padded[0, 3:] = 100.0
    out = pool(padded, mask)
    a = pool.weights(x, mask)[0, :3]
    assert abs(float(a.sum()) - 1) < 1e-6
    mean = (a[:, None] * x[0, :3]).sum(0)
    std = ((a[:, None] * (x[0, :3] - mean) ** 2).sum(0)).sqrt()
    torch.testing.assert_close(out[0], torch.cat([mean, std]), atol=1e-5, rtol=1e-5)


def test_layer_mix_weights_are_a_softmax():
    head = LayerMixHead(4, 6, 3, UtteranceHeadConfig())
    head.logits.data = torch.tensor([0.0, 1.0, -2.0, 3.0])
    w = head.layer_weights()
    assert torch.all(w > 0) and abs(float(w.sum()) - 1) < 1e-6
