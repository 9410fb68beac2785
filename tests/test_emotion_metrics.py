"""UA / WA / recall / confusion against scikit-learn."""

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, recall_score

from asr2emo.emotion.metrics import summarize


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
