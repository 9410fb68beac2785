"""The report states the acoustic model's topology, output units and size from its own files."""

import json
from pathlib import Path

import torch

from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel, config_to_dict
from asr2emo.report.collect import acoustic_model_summary


def _save(exp: Path, lang_dir: Path, xent: bool) -> TdnnfModel:
    config = TdnnfConfig(
        num_layers=7, hidden_dim=32, bottleneck_dim=8, prefinal_dim=16,
        time_strides=[1, 1, 0, 3, 3, 3], ivector_dim=6, feat_dim=5, dropout_schedule="0",
    )  # fmt: skip
    model = TdnnfModel(config, 11, xent_branch=xent)
    (exp / "tdnnf").mkdir(parents=True)
    ckpt = {
        "model": model.state_dict(),
        "model_config": config_to_dict(config),
        "num_outputs": 11,
        "lang_dir": str(lang_dir),
    }
    torch.save(ckpt, exp / "tdnnf" / "final.pt")
    return model


def test_summary_reads_topology_and_counts(tmp_path: Path) -> None:
    lang = tmp_path / "lang"
    lang.mkdir()
    (lang / "lang.json").write_text(json.dumps({"topology": "chain", "num_outputs": 11}))
    model = _save(tmp_path / "exp", lang, xent=True)
    am = acoustic_model_summary(tmp_path / "exp")
    assert am["topology"] == "chain" and am["num_outputs"] == 11
    assert am["num_params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    branch = sum(p.numel() for n, p in model.named_parameters() if n.startswith("xent."))
    assert am["xent_branch_params"] == branch > 0


def test_summary_without_model_or_lang(tmp_path: Path) -> None:
    assert acoustic_model_summary(tmp_path / "none") is None
    _save(tmp_path / "exp", tmp_path / "missing-lang", xent=False)
    am = acoustic_model_summary(tmp_path / "exp")
    assert am["topology"].startswith("unknown") and am["xent_branch_params"] == 0
