"""Layer sweep table and plot: depth order, Session-5 column, paper reference points."""

import json
import subprocess

from asr2emo.report import sweep
from asr2emo.report.paper import TABLE2


def _metrics(layer_dir, fold_uas, done=True):
    layer_dir.mkdir(parents=True)
    folds = [{"fold": s, "test_session": s, "ua": u, "wa": u + 0.01, "n": 10} for s, u in fold_uas]
    m = {
        "layer": layer_dir.name,
        "ua": 0.5,
        "wa": 0.5,
        "ua_fold_mean": sum(u for _, u in fold_uas) / len(fold_uas),
        "wa_fold_mean": sum(u for _, u in fold_uas) / len(fold_uas) + 0.01,
        "folds": folds,
    }
    (layer_dir / "metrics.json").write_text(json.dumps(m))
    if done:
        (layer_dir / ".done").write_text("x")


def test_sweep_table_and_plot(tmp_path):
    emo = tmp_path / "emotion"
    _metrics(emo / "prefinal", [(1, 0.4), (5, 0.45)])
    _metrics(emo / "tdnnf12", [(1, 0.7), (5, 0.6)])
    _metrics(emo / "tdnnf2", [(1, 0.5), (5, 0.55)])
    _metrics(emo / "tdnn1", [(1, 0.3), (5, 0.35)])
    _metrics(emo / "tdnnf13", [(1, 0.9), (5, 0.1)], done=False)  # unfinished: ignored
    out = tmp_path / "sweep"
    result = sweep.write_sweep(emo, out)
    rows = result["rows"]
    assert [r["layer"] for r in rows] == ["tdnn1", "tdnnf2", "tdnnf12", "prefinal"]
    assert [r["depth"] for r in rows] == [1, 2, 12, 13]  # prefinal after the last tdnnf found
    assert result["best_layer"] == "tdnnf12"
    assert rows[2]["ua_session5"] == 0.6 and abs(rows[2]["ua_fold_mean"] - 0.65) < 1e-12
    assert rows[2]["paper_session5"] == TABLE2["tdnnf12"] and rows[0]["paper_session5"] is None
    md = (out / "sweep.md").read_text()
    assert "| 12 | **layer 12** | 65.0 | 66.0 | 60.0 | 66.7 |" in md
    assert "| 13 | prefinal | 42.5 | 43.5 | 45.0 | 63.4 |" in md
    assert (out / "ua_vs_depth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "sweep.json").read_text())["rows"] == rows
    lines, data = sweep.sweep_section(out, tmp_path / "report")
    assert data["best_layer"] == "tdnnf12" and any("**layer 12**" in x for x in lines)
    assert "![UA vs depth](ua_vs_depth.png)" in lines
    assert (tmp_path / "report" / "ua_vs_depth.png").is_file()
    assert sweep.sweep_section(tmp_path / "nothing")[1] is None


def test_layer_subset_and_sections_not_run(tmp_path):
    emo = tmp_path / "emotion"
    _metrics(emo / "tdnnf12", [(5, 0.6)])
    _metrics(emo / "tdnnf13", [(5, 0.7)])
    rows = sweep.collect_sweep(emo, ["tdnnf13"])["rows"]
    assert [r["layer"] for r in rows] == ["tdnnf13"]
    no_paper = sweep.collect_sweep(emo, paper=False)
    assert [r["paper_session5"] for r in no_paper["rows"]] == [None, None]
    assert "not run" in "\n".join(sweep.finetune_section(tmp_path / "none")[0])


def test_recipe_checks_inputs(repo, tmp_path):
    r = subprocess.run(
        ["recipes/layer_sweep.sh", "--conf-dir", "conf/mini", "--asr-exp-dir", str(tmp_path)],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0 and "no acoustic model" in r.stderr
