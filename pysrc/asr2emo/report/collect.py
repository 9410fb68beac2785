"""Read the recipe's outputs for the report; every reader returns None when its input is missing."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional

from lhotse import SupervisionSet

_WER = re.compile(r"%WER\s+([0-9.]+)\s*\[\s*(\d+)\s*/\s*(\d+)")


def table1_counts(supervisions: Path) -> Optional[Dict[int, Dict[str, int]]]:
    """Utterances per session and emotion from a supervisions manifest (custom fields)."""
    if not supervisions.is_file():
        return None
    counts: Dict[int, Counter] = {}
    for s in SupervisionSet.from_file(supervisions):
        custom = s.custom or {}
        if "session" not in custom or "emotion" not in custom:
            continue
        counts.setdefault(int(custom["session"]), Counter())[str(custom["emotion"])] += 1
    return {k: dict(v) for k, v in sorted(counts.items())} or None


def read_wer(path: Path) -> Optional[Dict]:
    """Kaldi ``%WER 12.34 [ 123 / 1000, ...`` -> ``{"wer", "errors", "words"}``."""
    if not path.is_file():
        return None
    m = _WER.search(path.read_text())
    if m is None:
        logging.warning("%s: no '%%WER x [ e / n' line", path)
        return None
    return {"wer": float(m.group(1)), "errors": int(m.group(2)), "words": int(m.group(3))}


def wer_results(exp_dir: Path) -> Dict[str, Dict]:
    """``decode_<part>`` -> WER for every ``<exp-dir>/tdnnf/decode_*/wer.txt``."""
    out = {}
    for f in sorted((exp_dir / "tdnnf").glob("decode_*/wer.txt")):
        w = read_wer(f)
        if w is not None:
            out[f.parent.name.replace("decode_", "", 1)] = w
    return out


def acoustic_model_summary(exp_dir: Path) -> Optional[Dict]:
    """Output units and size of ``<exp-dir>/tdnnf/final.pt``: ``{"topology", "num_outputs",
    "num_params", "xent_branch", "lang_dir"}`` (topology from the model's ``lang.json``)."""
    final = exp_dir / "tdnnf" / "final.pt"
    if not final.is_file():
        return None
    from asr2emo.model import load_model

    model = load_model(final)
    lang_dir = Path(model.info.get("lang_dir", ""))
    lang_json = lang_dir / "lang.json"
    lang = json.loads(lang_json.read_text()) if lang_json.is_file() else {}
    return {
        "topology": lang.get("topology", "unknown (no lang.json beside the model)"),
        "num_outputs": model.num_outputs,
        "num_params": model.num_params(),
        "xent_branch_params": model.num_xent_params(),
        "lang_dir": str(lang_dir),
    }


def layer_metrics(emotion_dir: Path) -> Dict[str, Dict]:
    """``layer`` -> its ``metrics.json`` for every finished layer of the emotion dir."""
    out = {}
    for f in sorted(emotion_dir.glob("*/metrics.json")):
        if (f.parent / ".done").is_file():
            out[f.parent.name] = json.loads(f.read_text())
    return out


def fold_histories(layer_dir: Path) -> List[Dict]:
    """Each finished fold's ``history.json`` (with its fold number), sorted by fold."""
    hist = []
    for f in layer_dir.glob("fold-*/history.json"):
        h = json.loads(f.read_text())
        h["fold"] = int(f.parent.name.split("-", 1)[1])
        hist.append(h)
    return sorted(hist, key=lambda h: h["fold"])


def model_layer(emotion_dir: Path) -> Optional[str]:
    """The layer of the deployable model, when stage 8 wrote one."""
    f = emotion_dir / "model" / "config.json"
    if not f.is_file():
        return None
    return json.loads(f.read_text()).get("layer")
