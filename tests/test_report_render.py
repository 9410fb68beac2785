"""Stage 9 report: renders with any subset of inputs, never invents numbers."""

import json

from lhotse import SupervisionSet

from asr2emo.bench.synthetic import make_synthetic_cuts
from asr2emo.bin import make_report
from asr2emo.emotion.data import load_frames
from asr2emo.emotion.train import HeadConfig, cross_validate
from asr2emo.report.collect import read_wer
from asr2emo.report.render import build_report


def _run(args):
    return make_report.main(make_report.get_parser().parse_args([str(a) for a in args]))


def test_nothing_run_yet(tmp_path):
    (tmp_path / "exp").mkdir()
    assert _run([tmp_path / "manifests", tmp_path / "exp", tmp_path / "report"]) == 0
    md = (tmp_path / "report" / "report.md").read_text()
    m = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert "ua" not in m and m["layers"] == {} and m["wer"] == {}
    assert set(m["not_run"]) >= {"table1", "table2", "table3", "wer", "curves"}
    assert md.count("not run") >= 4
    assert "71.7" in md  # the paper's figures are still printed
    assert not list((tmp_path / "report").glob("*.png"))


def test_full_inputs(tmp_path):
    cuts = make_synthetic_cuts(tmp_path / "bn", utts_per_speaker=8, separation=0.5, seed=1)
    sups = SupervisionSet.from_segments([c.supervisions[0] for c in cuts])
    (tmp_path / "manifests").mkdir()
    sups.to_file(tmp_path / "manifests" / "iemocap_supervisions_all.jsonl.gz")
    cfg = HeadConfig(max_epochs=3, lr=1e-2, batch_size=256)
    data = load_frames(cuts)
    exp = tmp_path / "exp"
    for layer in ("tdnnf12", "tdnnf13"):
        cross_validate(data, layer, exp / "emotion" / layer, cfg)
    (exp / "tdnnf" / "decode_test").mkdir(parents=True)
    (exp / "tdnnf" / "decode_test" / "wer.txt").write_text(
        "%WER 12.34 [ 123 / 997, 10 ins, 20 del, 93 sub ]\n"
    )
    out = build_report(tmp_path / "manifests", exp, tmp_path / "report")
    layer12 = json.loads((exp / "emotion" / "tdnnf12" / "metrics.json").read_text())
    assert out["layer"] == "tdnnf12"
    assert out["ua"] == layer12["ua"] and out["folds"] == layer12["folds"]
    assert out["wer"] == {"test": {"wer": 12.34, "errors": 123, "words": 997}}
    expected = {}
    for s in sups:
        sess = expected.setdefault(s.custom["session"], {})
        sess[s.custom["emotion"]] = sess.get(s.custom["emotion"], 0) + 1
    assert out["table1"]["ours"] == expected
    # the recipes beyond the paper were not run here
    assert out["not_run"] == [
        "baselines_same_folds",
        "systems",
        "dimensional",
        "layer_sweep",
        "finetune",
    ]
    assert out["systems"] is None and out["deploy"] is None
    assert (tmp_path / "report" / "confusion.png").stat().st_size > 1000
    assert (tmp_path / "report" / "curves.png").stat().st_size > 1000
    md = (tmp_path / "report" / "report.md").read_text()
    s5 = next(f for f in layer12["folds"] if f["test_session"] == 5)
    assert f"| layer 12 (tdnnf12) | {100 * s5['ua']:.1f} | 66.7 |" in md
    assert "| prefinal (prefinal) | not run | 63.4 |" in md
    assert f"**{100 * layer12['ua_fold_mean']:.1f}**" in md


def test_folder_corpus_has_no_paper_figures(tmp_path):
    cuts = make_synthetic_cuts(
        tmp_path / "bn",
        num_sessions=3,
        utts_per_speaker=6,
        seed=2,
        classes=("angry", "happy", "sad"),
    )
    cross_validate(
        load_frames(cuts),
        "tdnnf12",
        tmp_path / "exp" / "emotion" / "tdnnf12",
        HeadConfig(max_epochs=2),
    )
    out = build_report(tmp_path / "m", tmp_path / "exp", tmp_path / "r", corpus="urdu")
    md = (tmp_path / "r" / "report.md").read_text()
    assert out["paper"] is None and "71.7" not in md and "66.7" not in md
    assert out["classes"] == ["angry", "happy", "sad"]


def test_the_systems_summary_and_deploy_choice_are_copied(tmp_path):
    systems = tmp_path / "exp" / "systems"
    systems.mkdir(parents=True)
    summary = {"paper": {"ua": 0.5, "wa": 0.6}, "selected": {"ua": 0.625, "wa": 0.7},
               "egemaps_svm": {"ua": 0.55, "wa": 0.5}}  # fmt: skip
    record = {"systems": summary, "deploy": "mean(layer_mix, early)",
              "deploy_members": ["layer_mix", "early"], "deploy_estimate": "selected",
              "deploy_from": "all sessions as the pool (no test fold)"}  # fmt: skip
    (systems / "metrics.json").write_text(json.dumps(record))
    (systems / "comparison.json").write_text(json.dumps({"titles": {"selected": "chosen"}}))
    out = build_report(tmp_path / "m", tmp_path / "exp", tmp_path / "r", corpus="urdu")
    assert out["systems"] == summary and out["deploy"] == "mean(layer_mix, early)"
    assert "systems" not in out["not_run"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "| chosen (estimate of the deployed system) | 62.5 | 70.0 |" in md
    assert "| egemaps_svm | 55.0 | 50.0 |" in md
    assert "Deploy: **mean(layer_mix, early)** (all sessions as the pool" in md


def test_read_wer_kaldi_format(tmp_path):
    f = tmp_path / "wer.txt"
    f.write_text("some header\n%WER 7.60 [ 2158 / 28392, 312 ins, 540 del, 1306 sub ]\n")
    assert read_wer(f) == {"wer": 7.6, "errors": 2158, "words": 28392}
    f.write_text("garbage\n")
    assert read_wer(f) is None
    assert read_wer(tmp_path / "missing.txt") is None


def test_the_report_names_the_iemocap_label_map(tmp_path):
    from asr2emo.report.render import label_map_line
    from asr2emo.utils.markers import make_record, write_marker

    assert "unknown" in label_map_line(tmp_path)
    for merged, word in ((False, "paper"), (True, "merged")):
        rec = make_record("prepare-iemocap", {"merge_hap_into_exc": merged}, {})
        write_marker(tmp_path, rec, ".iemocap.done")
        assert label_map_line(tmp_path).startswith(f"Label map: {word}")
