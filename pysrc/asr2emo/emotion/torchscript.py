"""TorchScript export of an emotion model dir: raw MFCC + i-vectors -> emotion posteriors.

The exported module (``torch.jit.script``) computes, for one utterance, exactly what the eager
pipeline of :class:`asr2emo.emotion.predict.EmotionPredictor` computes after feature and
i-vector extraction: the TDNN-F input assembly (edge padding, CMVN, splicing, the i-vector of
each frame), the frozen TDNN-F up to the model's layer (eval mode: batchnorm running
statistics, no dropout), the head (standardization, dense layers, log-softmax) and the summed
softmax. ``forward(feats (T, feat_dim), ivectors (T_iv, ivector_dim))`` returns
``(posteriors (C,), frame_log_probs (ceil(T / 3), C))``.

Layout of the export directory ``OUT`` (``asr2emo export``; read by ``asr2emo predict``)::

    model.pt      the TorchScript module (classes and config also as extra file config.json)
    config.json   {"format": "torchscript", "torchscript": "model.pt", "classes", "layer",
                   "feat_dim", "ivector_dim", "ivector_period", "ivector_dir": "ivector", ...}
    ivector/      the i-vector extractor (online i-vectors are computed outside the module)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import torch
from torch import nn

from asr2emo.deploy.bundle import export_format
from asr2emo.emotion.export import load_model_dir
from asr2emo.emotion.head import EmotionHead
from asr2emo.model.network import LayerCut, splice_frames
from asr2emo.model.tdnnf import TdnnfModel
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

FORMAT = "torchscript"
MODULE_FILE = "model.pt"


class ScriptableEmotionModel(nn.Module):
    """TDNN-F (up to ``layer``) + emotion head for one utterance, written for TorchScript.

    The network is the acoustic model's own pass (:class:`asr2emo.model.network.LayerCut` and
    :func:`asr2emo.model.network.splice_frames`, which :class:`TdnnfModel` runs too) over its
    trained modules; only the single-utterance frame positions are computed here.
    """

    def __init__(self, acoustic: TdnnfModel, layer: str, head: EmotionHead) -> None:
        super().__init__()
        acoustic.check_layer(layer)
        c = acoustic.config
        self.feat_dim = int(c.feat_dim)
        self.ivector_dim = int(c.ivector_dim)
        self.ivector_period = int(c.ivector_period)
        self.splice: List[int] = [int(o) for o in c.splice]
        self.left_context = int(acoustic.left_context)
        self.right_context = int(acoustic.right_context)
        self.subsampling = int(c.frame_subsampling_factor)
        self.register_buffer("cmvn_mean", acoustic.cmvn_mean.detach().clone())
        self.register_buffer("cmvn_std", acoustic.cmvn_std.detach().clone())
        self.network = LayerCut(acoustic, [layer])
        self.head = head
        self.layer = layer

    def network_input(self, feats: torch.Tensor, ivectors: torch.Tensor) -> torch.Tensor:
        """``(1, in_dim, W)``: :meth:`TdnnfModel.gather_input` for one whole utterance."""
        return self.assemble_input((feats - self.cmvn_mean) / self.cmvn_std, ivectors)

    def assemble_input(self, normed: torch.Tensor, ivectors: torch.Tensor) -> torch.Tensor:
        """:meth:`network_input` of CMVN-normalized MFCC (the ONNX export starts here)."""
        f = self.subsampling
        num_frames = normed.shape[0]
        num_out = (num_frames + f - 1) // f
        width = (num_out - 1) * f + 1 + self.left_context + self.right_context
        t = torch.arange(-self.left_context, width - self.left_context, device=normed.device)
        idx = t.clamp(min=0, max=num_frames - 1).unsqueeze(0)
        return splice_frames(
            normed.unsqueeze(0), ivectors.unsqueeze(0), idx, self.splice, self.ivector_period
        )

    def run_network(self, x: torch.Tensor) -> torch.Tensor:
        """Assembled input ``(1, in_dim, W)`` -> ``(ceil(T / 3), dim)`` output of the layer."""
        return self.network(x, None)[self.layer][0].t()

    def bottleneck(self, feats: torch.Tensor, ivectors: torch.Tensor) -> torch.Tensor:
        """``(ceil(T / 3), dim)`` output of the layer."""
        return self.run_network(self.network_input(feats, ivectors))

    def forward(
        self, feats: torch.Tensor, ivectors: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``feats (T, feat_dim)`` raw MFCC, ``ivectors (T_iv, ivector_dim)`` ->
        ``(posteriors (C,), frame_log_probs (T_out, C))``; posteriors = normalized summed
        softmax over the frames."""
        frame_lp = self.head(self.bottleneck(feats.float(), ivectors.float()))
        summed = frame_lp.exp().sum(dim=0)
        return summed / summed.sum(), frame_lp


def build_scriptable(model_dir: Path) -> Tuple[ScriptableEmotionModel, Dict]:
    """The eager module of a stage-8 model dir, and that dir's ``config.json``."""
    model_dir = Path(model_dir)
    if export_format(model_dir) == FORMAT:
        raise UserError(f"'{model_dir}' is already a TorchScript export")
    config, head, classes, acoustic = load_model_dir(model_dir)
    layer = config["layer"]
    module = ScriptableEmotionModel(acoustic, layer, head).eval()
    return module, {**config, "classes": classes}


def export_model_dir(model_dir: Path, out_dir: Path) -> Dict:
    """Write the TorchScript export of ``model_dir`` to ``out_dir`` (atomically); its config."""
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    module, config = build_scriptable(model_dir)
    scripted = torch.jit.script(module)
    info = {
        "format": FORMAT,
        "torchscript": MODULE_FILE,
        "classes": config["classes"],
        "layer": config["layer"],
        "aggregation": "sum_softmax",
        "feat_dim": module.feat_dim,
        "ivector_dim": module.ivector_dim,
        "ivector_period": module.ivector_period,
        "frame_shift": 0.01 * module.subsampling,
        "inputs": "feats (T, feat_dim) raw hires MFCC, ivectors (T_iv, ivector_dim) online",
        "outputs": "posteriors (C,) summed softmax, frame_log_probs (ceil(T/3), C)",
        "ivector_dir": None,
        "source_model_dir": str(model_dir),
        "cv": config.get("cv"),
    }
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        if config.get("ivector_dir") and (model_dir / config["ivector_dir"]).is_dir():
            shutil.copytree(model_dir / config["ivector_dir"], tmp / "ivector")
            info["ivector_dir"] = "ivector"
        torch.jit.save(
            scripted, str(tmp / MODULE_FILE), _extra_files={"config.json": json.dumps(info)}
        )
        (tmp / "config.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def is_torchscript_export(path: Path) -> bool:
    """True for an export dir (config.json with format torchscript) or its ``model.pt``."""
    return export_format(path) == FORMAT


class TorchScriptPredictor:
    """``asr2emo predict`` from an export dir: MFCC and online i-vectors in Python, the rest in
    the TorchScript module. Same interface as :class:`EmotionPredictor`."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        path = Path(path)
        export_dir = path.parent if path.is_file() else path
        self.config = json.loads((export_dir / "config.json").read_text())
        module_path = path if path.is_file() else export_dir / self.config["torchscript"]
        if not module_path.is_file():
            raise UserError(f"TorchScript module '{module_path}' does not exist")
        self.module = torch.jit.load(str(module_path), map_location=device).eval()
        self.classes = list(self.config["classes"])
        self.layer = self.config["layer"]
        self.device = device
        if not self.config.get("ivector_dir"):
            raise UserError(f"'{export_dir}' holds no i-vector extractor (ivector/)")
        from asr2emo.ivector import IvectorExtractor

        self.ivector = IvectorExtractor.load(export_dir / self.config["ivector_dir"])

    @torch.no_grad()
    def predict_features(self, feats: np.ndarray, ivectors: np.ndarray) -> Dict:
        x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32)).to(self.device)
        iv = torch.from_numpy(np.ascontiguousarray(ivectors, dtype=np.float32)).to(self.device)
        # The profiling executor re-optimizes for every new input length (~3 s of warm-up on
        # the demo model for a few files); plain interpretation of the graph is as fast here.
        with torch.jit.optimized_execution(False):
            post, _ = self.module(x, iv)
        post = post.cpu().tolist()
        return {
            "label": self.classes[int(np.argmax(post))],
            "posteriors": {c: round(p, 6) for c, p in zip(self.classes, post)},
        }

    def predict_file(self, path: str | Path) -> Dict:
        from asr2emo.data.long_audio import read_mono
        from asr2emo.features.mfcc import compute_mfcc

        samples, sr = read_mono(path)
        feats = compute_mfcc(samples, sr)
        if feats.shape[0] == 0:
            raise ValueError("too short for one feature frame")
        ivecs = self.ivector.extract_online(feats)
        return {"path": str(path), **self.predict_features(feats, ivecs)}
