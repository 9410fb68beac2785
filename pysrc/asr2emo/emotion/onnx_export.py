"""ONNX export of an emotion model dir for :mod:`asr2emo.deploy` (inference without torch).

The graph is the network only: CMVN-normalized MFCC ``(T, feat_dim)`` and online i-vectors
``(T_iv, ivector_dim)`` -> frame posteriors ``(ceil(T / 3), C)`` (the TDNN-F input assembly and
layers up to the model's layer, the head, softmax), traced from the TorchScript module's eager
twin with a dynamic time axis. CMVN, the i-vector extractor, the MFCC options, the classes and
the aggregation rule are written beside it as .npz/.json (layout: :mod:`asr2emo.deploy.bundle`).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Dict

import numpy as np
import torch
from torch import nn

from asr2emo.deploy import bundle
from asr2emo.emotion.torchscript import ScriptableEmotionModel, build_scriptable
from asr2emo.features.mfcc import KaldiMfccHiresConfig
from asr2emo.utils.errors import UserError
from asr2emo.utils.io import atomic_path

OPSETS = range(13, 18)


class FramePosteriors(nn.Module):
    """What ``model.onnx`` computes: normalized MFCC + i-vectors -> frame posteriors."""

    def __init__(self, module: ScriptableEmotionModel) -> None:
        super().__init__()
        self.module = module

    def forward(self, normed: torch.Tensor, ivectors: torch.Tensor) -> torch.Tensor:
        m = self.module
        return m.head(m.run_network(m.assemble_input(normed, ivectors))).exp()


def extractor_arrays(ex) -> tuple[Dict[str, np.ndarray], Dict]:
    """An :class:`asr2emo.ivector.IvectorExtractor` as the arrays of ``ivector.npz`` (what
    :class:`asr2emo.deploy.ivector.IvectorModel` reads) and its options."""
    arrays = {
        "pca_mean": ex.pca.mean.numpy(),
        "pca_transform": ex.pca.transform.numpy(),
        "ubm_weights": ex.ubm.weights.numpy(),
        "ubm_means": ex.ubm.means.numpy(),
        "ubm_variances": ex.ubm.variances.numpy(),
        "T": ex.T.numpy(),
        "prior_offset": np.float64(ex.prior_offset),
        "global_cmvn_mean": ex.cmvn_mean.numpy(),
    }
    return arrays, asdict(ex.opts)


def ivector_arrays(ivector_dir: Path) -> tuple[Dict[str, np.ndarray], Dict]:
    """The extractor of ``ivector_dir`` as :func:`extractor_arrays`."""
    from asr2emo.ivector import IvectorExtractor

    return extractor_arrays(IvectorExtractor.load(ivector_dir))


def export_onnx(module: FramePosteriors, path: Path, opset: int) -> None:
    """Trace ``module`` to ``path`` with a dynamic time axis (torch.onnx, opset ``opset``)."""
    g = torch.Generator().manual_seed(0)
    normed = torch.randn(57, module.module.feat_dim, generator=g)
    ivecs = torch.randn(6, module.module.ivector_dim, generator=g)
    with warnings.catch_warnings(), torch.no_grad():
        # shape-inference notes of the exporter about constants; the graph is checked after
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            module,
            (normed, ivecs),
            str(path),
            input_names=["feats", "ivectors"],
            output_names=["frame_posteriors"],
            dynamic_axes={
                "feats": {0: "num_frames"},
                "ivectors": {0: "num_ivectors"},
                "frame_posteriors": {0: "num_out_frames"},
            },
            opset_version=opset,
            do_constant_folding=True,
        )


def export_onnx_dir(model_dir: Path, out_dir: Path, opset: int = 13) -> Dict:
    """Write the ONNX export of ``model_dir`` to ``out_dir`` (atomically); its config."""
    if opset not in OPSETS:
        raise UserError(f"--opset must be in {OPSETS.start}..{OPSETS.stop - 1}, got {opset}")
    model_dir, out_dir = Path(model_dir), Path(out_dir)
    module, config = build_scriptable(model_dir)
    if not config.get("ivector_dir") or not (model_dir / config["ivector_dir"]).is_dir():
        raise UserError(f"'{model_dir}' holds no i-vector extractor (ivector/ was not copied)")
    arrays, ivector_opts = ivector_arrays(model_dir / config["ivector_dir"])
    info = {
        "format": bundle.FORMAT,
        "onnx": bundle.MODEL_FILE,
        "opset": opset,
        "classes": config["classes"],
        "layer": config["layer"],
        "aggregation": bundle.AGGREGATION,
        "aggregation_rule": "posteriors = frame_posteriors summed over frames, normalized to "
        "sum to 1; label = argmax",
        "feat_dim": module.feat_dim,
        "ivector_dim": module.ivector_dim,
        "ivector_period": module.ivector_period,
        "frame_shift": 0.01 * module.subsampling,
        "inputs": "feats (T, feat_dim) hires MFCC normalized with cmvn.npz; "
        "ivectors (ceil(T/period), ivector_dim) online, from ivector.npz",
        "outputs": "frame_posteriors (ceil(T/3), C) softmax per output frame",
        "cmvn": bundle.CMVN_FILE,
        "ivector": bundle.IVECTOR_FILE,
        "ivector_options": bundle.IVECTOR_OPTIONS_FILE,
        "mfcc": bundle.MFCC_FILE,
        "source_model_dir": str(model_dir),
        "cv": config.get("cv"),
    }
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        export_onnx(FramePosteriors(module).eval(), tmp / bundle.MODEL_FILE, opset)
        np.savez(
            tmp / bundle.CMVN_FILE,
            mean=module.cmvn_mean.numpy(),
            std=module.cmvn_std.numpy(),
        )
        np.savez(tmp / bundle.IVECTOR_FILE, **arrays)
        (tmp / bundle.IVECTOR_OPTIONS_FILE).write_text(json.dumps(ivector_opts, indent=1) + "\n")
        mfcc = KaldiMfccHiresConfig().to_dict()
        (tmp / bundle.MFCC_FILE).write_text(json.dumps(mfcc, indent=1) + "\n")
        (tmp / "config.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
