"""Baseline pipelines (standardization on the training fold only) and the comparison table."""

import math

import numpy as np
import pytest

from asr2emo.baselines.classical import ClassicalConfig, run_folds
from asr2emo.baselines.compare import compare, comparison_markdown, paired_differences
from asr2emo.baselines.utterances import UttTable
from asr2emo.emotion.folds import make_folds
from asr2emo.utils.errors import UserError


def _metrics(uas, was):
    return {
        "ua": float(np.mean(uas)),
        "wa": float(np.mean(was)),
        "folds": [{"fold": k + 1, "ua": u, "wa": w} for k, (u, w) in enumerate(zip(uas, was))],
    }


def test_paired_differences_hand_computed():
    base = _metrics([0.5, 0.6, 0.7], [0.55, 0.65, 0.60])
    transfer = _metrics([0.4, 0.7, 0.5], [0.50, 0.60, 0.70])
    comp = compare({"b": base}, transfer, "transfer_tdnnf12")
    row = comp["systems"]["b"]
    # differences 0.1, -0.1, 0.2: mean 1/15, sample std sqrt(0.07/3)
    assert row["delta_ua_folds"] == pytest.approx({"1": 0.1, "2": -0.1, "3": 0.2})
    assert row["delta_ua"]["mean"] == pytest.approx(0.0666667, abs=1e-6)
    assert row["delta_ua"]["std"] == pytest.approx(0.1527525, abs=1e-6)
    # WA differences 0.05, 0.05, -0.10: mean 0, sample std sqrt(0.0075)
    assert row["delta_wa"]["mean"] == pytest.approx(0.0, abs=1e-12)
    assert row["delta_wa"]["std"] == pytest.approx(0.0866025, abs=1e-6)
    assert row["ua"]["mean"] == pytest.approx(0.6) and row["ua"]["std"] == pytest.approx(0.1)
    assert list(comp["systems"]) == ["transfer_tdnnf12", "b"]
    assert "delta_ua" not in comp["systems"]["transfer_tdnnf12"]
    md = comparison_markdown(comp)
    assert "+6.7 ± 15.3" in md and "+10.0 -10.0 +20.0" in md and "60.0 ± 10.0" in md


def test_unpaired_folds_are_an_error():
    a = _metrics([0.5, 0.6], [0.5, 0.6])
    b = {"folds": [{"fold": 1, "ua": 0.5, "wa": 0.5}, {"fold": 3, "ua": 0.5, "wa": 0.5}]}
    with pytest.raises(UserError):
        paired_differences(a, b, "ua")


def test_no_transfer_system_gives_no_differences():
    comp = compare({"b": _metrics([0.5, 0.7], [0.5, 0.7])}, None, "")
    assert comp["transfer"] is None and "delta_ua" not in comp["systems"]["b"]
    assert math.isclose(comp["systems"]["b"]["ua"]["std"], math.sqrt(0.02))


def _table(num_sessions=4, per_spk=12):
    ids, spk, ses, lab = [], [], [], []
    for s in range(1, num_sessions + 1):
        for g in "FM":
            for i in range(per_spk):
                ids.append(f"Ses0{s}{g}_x_{g}{i:03d}")
                spk.append(f"Ses0{s}{g}")
                ses.append(s)
                lab.append(i % 2)
    return UttTable(ids, spk, np.array(ses), np.array(lab), ["a", "b"], [], {})


@pytest.mark.parametrize("classifier", ["svm", "logreg"])
def test_scaler_fit_on_training_fold_only_leakage_probe(classifier):
    """Probe: the test session's features are shifted by 1000 in one column. A scaler that saw
    them would have a mean far from the training rows' and would break the classifier."""
    table = _table()
    folds = make_folds(table.sessions, table.speakers, seed=1)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(table.num_utts, 3))
    x[:, 1] += 2.0 * table.labels  # the informative column
    for f in folds:
        probe = x.copy()
        probe[f.test, 0] += 1000.0  # leakage probe on an uninformative column
        fitted = {}
        recs = run_folds(probe, table, [f], classifier, ClassicalConfig(seed=1), fitted)
        scaler = fitted[f.fold].named_steps["scaler"]
        tr = np.sort(np.concatenate([f.train, f.val]))
        assert scaler.n_samples_seen_ == len(tr) == table.num_utts - len(f.test)
        np.testing.assert_allclose(scaler.mean_, probe[tr].mean(axis=0), atol=1e-9)
        assert abs(scaler.mean_[0]) < 1.0  # a leaky scaler would give about 250
        assert len(recs[f.fold]) == len(f.test)


def test_report_sections_render_written_outputs(tmp_path):
    from asr2emo.baselines.compare import write_comparison
    from asr2emo.report.extras import baselines_section, dimensional_section

    lines, d = baselines_section(tmp_path / "nothing")
    assert d is None and any("not run" in x for x in lines)
    comp = compare({"b": _metrics([0.5, 0.6], [0.5, 0.6])}, _metrics([0.4, 0.4], [0.4, 0.4]), "t")
    write_comparison(tmp_path, comp, {"b": "Baseline B"})
    lines, d = baselines_section(tmp_path)
    row = next(x for x in lines if x.startswith("| Baseline B"))
    assert "+15.0 ± 7.1" in row  # differences 0.1, 0.2
    assert d["systems"]["b"]["delta_ua"]["mean"] == pytest.approx(0.15)
    lines, d = dimensional_section(tmp_path / "nothing")
    assert d is None
