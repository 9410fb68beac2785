"""The emotion systems beyond the paper (asr2emo.systems) on synthetic bottlenecks: stage 8's
folds, layer weights that are a distribution, the frame head retrained per inner fold, class
balance, fusion weights and the choice fitted on training-session speakers only."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.folds import make_folds
from asr2emo.emotion.train import HeadConfig, cross_validate
from asr2emo.systems import fusion
from asr2emo.systems import run as run_module
from asr2emo.systems.choice import (
    fold_uas,
    mean_posteriors,
    one_se_members,
    standard_error,
)
from asr2emo.systems.deploy import deploy_fold, deploy_system, export_deploy, most_agreed
from asr2emo.systems.export import base_systems, ensemble_posteriors, is_systems_export
from asr2emo.systems.fusion import Scores, fit_weight, fuse
from asr2emo.systems.heads import LayerMixHead, UtteranceHeadConfig
from asr2emo.systems.pooling import AttentiveStatsPooling, utterance_stats
from asr2emo.systems.report import write_report
from asr2emo.systems.run import (
    CANDIDATES,
    SystemInputs,
    SystemsConfig,
    check_config,
    run_fold,
    training_pool,
)
from asr2emo.utils.errors import UserError

HEAD = HeadConfig(max_epochs=6, lr=1e-2, batch_size=256, patience=3, seed=3)
FAST = SystemsConfig(
    head=UtteranceHeadConfig(max_epochs=8, patience=3, lr=3e-3, batch_size=8), frame=HEAD
)


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
    # "eGeMAPS": a weakly informative utterance feature (a class mean per dimension + noise)
    egemaps = rng.standard_normal((data.num_utts, 6)) + 0.8 * np.eye(4)[data.labels] @ (
        rng.standard_normal((4, 6))
    )
    # the same two 'layers' frame by frame: noise frames, then the paper layer's own frames
    frames = torch.stack([torch.from_numpy(rng.standard_normal(data.feats.shape).astype(
        np.float32)), data.feats], dim=1)  # fmt: skip
    inputs = SystemInputs(data, stats, egemaps, 1, dataclasses.replace(data, feats=frames))
    return tmp, data, metrics, inputs


def test_every_system_on_stage8_folds_and_the_choice_from_training_sessions(stage8):
    tmp, data, metrics, inputs = stage8
    folds = make_folds(data.sessions, data.speakers, HEAD.seed)
    results = {}
    for fold in folds:
        head = tmp / "emotion" / "tdnnf12" / f"fold-{fold.fold}" / "head.pt"
        r = run_fold(fold, inputs, head, FAST, HEAD.seed)
        val_ids = [data.ids[u] for u in fold.val]
        test_ids = [data.ids[u] for u in fold.test]
        for name in ("paper",) + CANDIDATES + ("best_single", "selected"):
            assert r[name]["val"].ids == val_ids and r[name]["test"].ids == test_ids, name
            np.testing.assert_allclose(r[name]["test"].posteriors.sum(axis=1), 1.0, atol=1e-6)
        for mix in ("layer_mix", "frame_mix"):
            w = np.asarray(r[mix]["info"]["layer_weights"])
            assert w.shape == (2,) and np.all(w >= 0) and abs(w.sum() - 1) < 1e-6
        info = r["selected"]["info"]
        assert info["selection"] == "inner-cv" and set(info["val_uas"]) == set(CANDIDATES)
        uas = info["val_uas"]
        assert info["best"] == r["best_single"]["info"]["chosen"]
        assert uas[info["best"]] == max(uas.values())
        np.testing.assert_array_equal(r["best_single"]["test"].posteriors,
                                      r[info["best"]]["test"].posteriors)  # fmt: skip
        # the 1-SE set: the SE of the best one's UA over the 4 inner folds, S = all within it
        per = list(info["best_fold_uas"].values())
        assert len(per) == 4
        assert info["se"] == pytest.approx(np.std(per, ddof=1) / 2, abs=1e-15)
        assert info["members"] == [n for n in CANDIDATES if uas[n] >= uas[info["best"]] -
                                   info["se"] - 1e-12]  # fmt: skip
        assert info["best"] in info["members"]
        for split in ("val", "test"):  # equal-weight mean of the members' posteriors
            mean = np.mean([r[n][split].posteriors for n in info["members"]], axis=0)
            np.testing.assert_allclose(r["selected"][split].posteriors, mean, atol=1e-12)
            np.testing.assert_allclose(r["selected"][split].posteriors.sum(axis=1), 1, atol=1e-9)
        # each system's class balance is the better of the two on the same selection data
        for name, cw in info["class_weights"].items():
            uas = r[name]["info"]["class_weight_uas"]
            assert r[name]["info"]["class_weight"] == cw and uas[cw] == max(uas.values())
            assert cw == "none" or uas["balanced"] > uas["none"]  # ties keep 'none'
        if info["class_weights"]["frame"] == "none":  # stage 8's class weight: its own head
            np.testing.assert_array_equal(r["frame"]["test"].posteriors,
                                          r["paper"]["test"].posteriors)  # fmt: skip
        # the stage-8 heads rescored reproduce stage 8's test decisions
        recs = [json.loads(x) for x in (head.parent / "predictions.jsonl").read_text().splitlines()]
        paper = r["paper"]["test"].posteriors.argmax(axis=1)
        assert [data.classes[p] for p in paper] == [x["pred"]["sum_softmax"] for x in recs]
        from asr2emo.systems.run import fold_json

        results[fold.fold] = json.loads(json.dumps(fold_json(r)))
    deploy = run_module.fold_json(deploy_system(inputs, FAST, HEAD.seed))
    d_info = deploy["selected"]["info"]
    assert all(deploy[n]["test"]["ids"] == [] for n in deploy)  # no test fold exists
    assert len(deploy["selected"]["val"]["ids"]) == len(deploy_fold(data.speakers, 3).val)
    assert len(d_info["best_fold_uas"]) == len(folds)  # inner folds = every session
    # the exported deploy system is the one chosen: its validation posteriors match
    stage8_dir = tmp / "stage8_model"
    for sub in ("acoustic", "ivector"):
        (stage8_dir / sub).mkdir(parents=True, exist_ok=True)
        (stage8_dir / sub / "final.pt").write_text("x")
    (stage8_dir / "config.json").write_text(
        json.dumps({"acoustic_model_dir": "acoustic", "ivector_dir": "ivector"})
    )
    settings = {"classes": data.classes, "paper_layer": "tdnnf12", "layers": ["noise", "own"],
                "paper_index": 1, "frame_dtype": "float32"}  # fmt: skip
    model_dir = tmp / "out" / "deploy" / "model"
    diff = export_deploy(inputs, FAST, HEAD.seed, deploy, settings, stage8_dir, model_dir)
    assert diff < 2e-6  # scores.json rounds to 1e-6
    config = json.loads((model_dir / "config.json").read_text())
    assert is_systems_export(model_dir) and config["ensemble"] == d_info["members"]
    assert (model_dir / "acoustic" / "final.pt").is_file()
    members = torch.load(model_dir / "systems.pt")
    val = deploy_fold(data.speakers, HEAD.seed).val
    post = ensemble_posteriors(members, config["ensemble"], config["fusion_weights"], inputs, val)
    np.testing.assert_allclose(post, deploy["selected"]["val"]["posteriors"], atol=2e-6)
    comp = write_report(
        tmp / "out", data, results, metrics, "tdnnf12", ["noise", "own"], None, {}, deploy
    )
    assert set(comp["chosen"]) == {str(f.fold) for f in folds}
    summary = json.loads((tmp / "out" / "metrics.json").read_text())
    assert summary["deploy"] == d_info["chosen"] and summary["deploy_members"] == d_info["members"]
    assert list(summary["systems"]) == ["paper", *CANDIDATES, "best_single", "selected"]
    for name, m in summary["systems"].items():  # fold means of the per-fold UA and WA
        per_fold = json.loads((tmp / "out" / name / "metrics.json").read_text())["folds"]
        assert m["ua"] == pytest.approx(np.mean([f["ua"] for f in per_fold]), abs=1e-12)
        assert m["wa"] == pytest.approx(np.mean([f["wa"] for f in per_fold]), abs=1e-12)
    md = (tmp / "out" / "comparison.md").read_text()
    assert md.index("## Summary") < md.index("## All systems") and d_info["chosen"] in md
    assert (tmp / "out" / "comparison.md").is_file() and (
        tmp / "out" / "layer_weights.png"
    ).is_file()
    # the mixture learns to prefer the informative 'layer' over the noise on average
    for key in ("layer_weights", "frame_layer_weights"):
        mean_w = np.mean([w for w in comp[key].values()], axis=0)
        assert mean_w[1] > mean_w[0], key


def test_one_se_rule_by_hand():
    # per-inner-fold UA of the best candidate: 0.5 0.7 0.6 0.8 -> mean 0.65, squared
    # deviations 0.0225 0.0025 0.0025 0.0225 (sum 0.05), sd = sqrt(0.05 / 3), SE = sd / 2
    assert standard_error([0.5, 0.7, 0.6, 0.8]) == pytest.approx(np.sqrt(0.05 / 3) / 2, 1e-12)
    with pytest.raises(ValueError, match="at least 2 folds"):
        standard_error([0.7])
    # two held-out sessions of 4 utterances (labels 0 0 1 1 each), predictions by argmax:
    # session 1 gets 0 0 1 0 -> recalls 1, 1/2 -> UA 0.75; session 2 gets 1 1 1 1 -> UA 0.5
    pred = [0, 0, 1, 0, 1, 1, 1, 1]
    scores = Scores([f"u{i}" for i in range(8)], np.eye(2)[pred] * 0.8 + 0.1)
    got = fold_uas(scores, [0, 0, 1, 1] * 2, [1, 1, 1, 1, 2, 2, 2, 2], ["x", "y"])
    assert got == {1: 0.75, 2: 0.5}


def test_one_se_set_at_the_boundary():
    uas = {"a": 0.5, "best": 0.75, "c": 0.5 - 2**-20, "d": 0.75}  # binary-exact values
    assert one_se_members(uas, list(uas), "best", 0.25) == ["a", "best", "d"]
    assert one_se_members(uas, list(uas), "best", 0.0) == ["best", "d"]
    # 0.1 + 0.2 - 0.1 > 0.2 in floats: a UA equal to the threshold up to rounding is within it
    assert one_se_members({"b": 0.1 + 0.2, "x": 0.2}, ["b", "x"], "b", 0.1) == ["b", "x"]
    assert one_se_members({"b": 0.1 + 0.2, "x": 0.2 - 1e-9}, ["b", "x"], "b", 0.1) == ["b"]


def test_ensemble_posteriors_are_the_members_mean():
    a = Scores(["u", "v"], np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    b = Scores(["u", "v"], np.array([[0.1, 0.6, 0.3], [0.3, 0.3, 0.4]]))
    m = mean_posteriors([a, b])
    np.testing.assert_allclose(m.posteriors, [[0.4, 0.4, 0.2], [0.2, 0.2, 0.6]])
    np.testing.assert_allclose(m.posteriors.sum(axis=1), 1.0)
    assert m.ids == ["u", "v"]
    with pytest.raises(ValueError, match="different utterances"):
        mean_posteriors([a, Scores(["v", "u"], b.posteriors)])


def test_deploy_pool_is_every_utterance_with_stage8s_validation_rule():
    speakers = ["s1"] * 12 + ["s2"] * 3 + ["s3"] * 10
    f = deploy_fold(speakers, seed=5)
    assert f.test.size == 0 and f.val_speaker in ("s1", "s3")  # >= 10 utterances
    assert sorted(np.concatenate([f.train, f.val]).tolist()) == list(range(len(speakers)))
    assert {speakers[u] for u in f.val} == {f.val_speaker}
    assert f.val_speaker not in {speakers[u] for u in f.train}
    assert deploy_fold(speakers, seed=5).val_speaker == f.val_speaker  # seeded
    with pytest.raises(UserError, match="at least 2 speakers"):
        deploy_fold(["s1"] * 4, seed=5)
    assert most_agreed({1: "a", 2: "b", 3: "b", 4: "a"}) == ("a", 2)  # tie: earliest fold's
    assert most_agreed({1: "a", 2: "b", 3: "b"}) == ("b", 2)


def test_an_ensemble_needs_the_base_systems_of_its_fusions():
    assert base_systems(["layer_mix", "early", "layer_mix+egemaps", "frame+egemaps"]) == [
        "layer_mix", "early", "egemaps", "frame"]  # fmt: skip


def test_fusion_weight_refuses_test_utterances():
    # both right only for w > 0.844 (u2): of 0.9 and 1.0, the one nearer 0.5
    a = Scores(["u1", "u2"], np.array([[0.9, 0.1], [0.4, 0.6]]))
    b = Scores(["u1", "u2"], np.array([[0.1, 0.9], [0.9, 0.1]]))
    assert fit_weight(a, b, [0, 1], ["x", "y"], test_ids=["u3"]) == 0.9
    with pytest.raises(UserError, match="test utterance"):
        fit_weight(a, b, [0, 1], ["x", "y"], test_ids=["u2", "u9"])


@pytest.mark.parametrize("selection", ["inner-cv", "val-speaker"])
def test_run_fold_trains_and_fits_on_training_sessions_only(stage8, monkeypatch, selection):
    """Spies on the fusion fit and on stage 8's trainer: the fusion weights see every
    training-session utterance (inner-cv) or the validation speaker's, never a test one; the
    frame-level heads (the paper's, per inner fold, and the layer mixture) never train on, nor
    stop early on, the test session."""
    tmp, data, metrics, inputs = stage8
    seen, trained = [], []
    real_fit, real_train = fusion.fit_weight, run_module.train_head

    def spy(val_a, val_b, labels, classes, test_ids, **kw):
        seen.append((set(val_a.ids) | set(val_b.ids), set(test_ids)))
        return real_fit(val_a, val_b, labels, classes, test_ids, **kw)

    def train_spy(frames, train, val, cfg, **kw):
        trained.append((set(train.tolist()), set(val.tolist()), cfg.class_weight))
        return real_train(frames, train, val, cfg, **kw)

    chose = []
    real_choose, real_fold_uas = run_module.choose, run_module.fold_uas

    def choose_spy(fold_id, names, sel, sel_labels, *args, **kw):
        chose.append({u for s in sel.values() for u in s.ids})
        return real_choose(fold_id, names, sel, sel_labels, *args, **kw)

    def fold_uas_spy(scores, *args, **kw):
        chose.append(set(scores.ids))
        return real_fold_uas(scores, *args, **kw)

    monkeypatch.setattr("asr2emo.systems.run.choose", choose_spy)
    monkeypatch.setattr("asr2emo.systems.run.fold_uas", fold_uas_spy)
    monkeypatch.setattr("asr2emo.systems.run.fit_weight", spy)
    monkeypatch.setattr("asr2emo.systems.run.train_head", train_spy)
    monkeypatch.setattr("asr2emo.systems.heads.train_head", train_spy)
    fold = make_folds(data.sessions, data.speakers, HEAD.seed)[0]
    head = tmp / "emotion" / "tdnnf12" / f"fold-{fold.fold}" / "head.pt"
    choice = "one-se-ensemble" if selection == "inner-cv" else "best"
    cfg = dataclasses.replace(FAST, selection=selection, choice=choice)
    run_fold(fold, inputs, head, cfg, HEAD.seed)
    val = {data.ids[u] for u in fold.val}
    training = val | {data.ids[u] for u in fold.train}
    test = {data.ids[u] for u in fold.test}
    assert len(seen) == 4  # frame, frame_mix, asp, layer_mix + egemaps
    for fitted, test_ids in seen:
        assert test_ids == test and not fitted & test and fitted <= training
    assert {len(f) for f, _ in seen} == {len(training) if selection == "inner-cv" else len(val)}
    # the choice (best single, its SE over inner folds, the 1-SE set) sees no test utterance
    assert len(chose) == (2 if selection == "inner-cv" else 1)
    assert all(ids and not ids & test and ids <= training for ids in chose)
    test_utts = set(fold.test.tolist())
    assert trained and all(not (tr | va) & test_utts for tr, va, _ in trained)
    # inner-cv: both class weights of both frame heads on each of the 4 inner folds
    inner = [t for t in trained if t[0] | t[1] < set(training_pool(fold).tolist())]
    if selection == "inner-cv":
        assert len(inner) == 4 * 2 * 2


def test_a_bad_class_weight_or_selection_is_one_error_line():
    with pytest.raises(UserError, match="--class-weights must list"):
        check_config(dataclasses.replace(FAST, class_weights=["none", "inverse"]))
    with pytest.raises(UserError, match="--class-weights must list"):
        check_config(dataclasses.replace(FAST, class_weights=[]))
    with pytest.raises(UserError, match="--selection must be one of"):
        check_config(dataclasses.replace(FAST, selection="test-fold"))
    with pytest.raises(UserError, match="--choice must be one of"):
        check_config(dataclasses.replace(FAST, choice="oracle"))
    with pytest.raises(UserError, match="needs --selection=inner-cv"):
        check_config(dataclasses.replace(FAST, selection="val-speaker"))
    check_config(dataclasses.replace(FAST, selection="val-speaker", choice="best"))


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


def test_the_verb_reads_both_confs_and_a_bad_class_weight_is_one_error_line(tmp_path, capsys):
    from asr2emo.bin.emotion_systems import get_parser
    from asr2emo.cli import main as cli_main

    dirs = ["e", "b", "l", "m", "iemocap", str(tmp_path / "out")]
    root = Path(__file__).resolve().parents[1]
    for conf, mix in (("conf/systems.conf", False), ("conf/mini/systems.conf", True)):
        args = get_parser().parse_args(["--config", str(root / conf)] + dirs)
        assert args.class_weights == ["none", "balanced"] and args.frame_mix is mix
        assert args.choice == "one-se-ensemble"
    assert cli_main(["emotion-systems", "--class-weights", "none,inverse"] + dirs) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--class-weights must list" in errors[0]
    assert "Traceback" not in err
