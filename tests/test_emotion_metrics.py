"""UA / WA / recall / confusion against scikit-learn; cross-validation figures by hand."""

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score

from asr2emo.emotion.metrics import cv_summary, summarize


def test_against_sklearn_random():
    rng = np.random.default_rng(3)
    classes = ["ang", "exc", "neu", "sad"]
    for _ in range(20):
        n = int(rng.integers(5, 200))
        y = rng.integers(0, 4, size=n)
        # biased predictions so the classes have different recalls
        p = np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, size=n))
        s = summarize(y, p, classes)
        present = sorted(set(y.tolist()))
        assert np.isclose(s["ua"], balanced_accuracy_score(y, p))
        assert np.isclose(s["wa"], accuracy_score(y, p))
        rec = recall_score(y, p, labels=present, average=None, zero_division=0)
        for c, r in zip(present, rec):
            assert np.isclose(s["per_class_recall"][classes[c]], r)
        assert s["confusion"] == confusion_matrix(y, p, labels=[0, 1, 2, 3]).tolist()


def test_ua_differs_from_wa_on_imbalanced_data():
    y = [0] * 8 + [1] * 2
    p = [0] * 10
    s = summarize(y, p, ["a", "b"])
    assert s["wa"] == 0.8
    assert s["ua"] == 0.5
    assert s["per_class_recall"] == {"a": 1.0, "b": 0.0}


def test_absent_class_is_null_and_excluded_from_ua():
    s = summarize([0, 0, 1], [0, 1, 1], ["a", "b", "c"])
    assert s["per_class_recall"]["c"] is None
    assert np.isclose(s["ua"], balanced_accuracy_score([0, 0, 1], [0, 1, 1]))


def test_cv_summary_by_hand():
    # fold 1 (session 1): a->a, a->b, b->b; fold 2 (session 2): b->b, b->a, a->a, b->b
    def rec(label, pred, session):
        return {"label": label, "session": session, "pred": {"x": pred}}

    folds = {
        2: [rec("b", "b", 2), rec("b", "a", 2), rec("a", "a", 2), rec("b", "b", 2)],
        1: [rec("a", "a", 1), rec("a", "b", 1), rec("b", "b", 1)],
    }
    s = cv_summary(folds, ["a", "b"], lambda r: r["pred"]["x"])
    # fold 1: recalls a 1/2, b 1/1 -> UA 3/4, WA 2/3; fold 2: a 1/1, b 2/3 -> UA 5/6, WA 3/4
    assert [f["fold"] for f in s["folds"]] == [1, 2]
    assert [f["test_session"] for f in s["folds"]] == [1, 2] and s["n"] == 7
    assert np.allclose([f["ua"] for f in s["folds"]], [3 / 4, 5 / 6])
    assert np.allclose([f["wa"] for f in s["folds"]], [2 / 3, 3 / 4])
    assert np.isclose(s["ua_fold_mean"], (3 / 4 + 5 / 6) / 2)
    assert np.isclose(s["wa_fold_mean"], (2 / 3 + 3 / 4) / 2)
    # pooled: a 2/3 (of 3), b 3/4 (of 4) -> UA 17/24, WA 5/7; rows = truth
    assert np.isclose(s["ua"], (2 / 3 + 3 / 4) / 2) and np.isclose(s["wa"], 5 / 7)
    assert s["confusion"] == [[2, 1], [1, 3]]
