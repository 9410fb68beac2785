"""final.pt's batchnorm statistics recomputed on training data after averaging (Kaldi's
RecomputeStats): only the statistics change, and they are those of the frames, by hand."""

from __future__ import annotations

import copy
from typing import Dict, List

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from asr2emo.model.batchnorm_stats import recompute_batchnorm_stats, recompute_state_stats
from asr2emo.model.checkpoint import average_state_dicts, write_final
from asr2emo.model.layers import MaskedBatchNorm1d
from asr2emo.model.tdnnf import TdnnfConfig, TdnnfModel
from asr2emo.utils.errors import UserError

STATS = ("running_mean", "running_var", "num_batches_tracked")


def tiny_model(seed: int = 3) -> TdnnfModel:
    config = TdnnfConfig(
        num_layers=7,
        hidden_dim=16,
        bottleneck_dim=4,
        prefinal_dim=8,
        time_strides=[1, 1, 0, 3, 3, 3],
        ivector_dim=3,
        feat_dim=5,
        dropout_schedule="0.4",
    )
    torch.manual_seed(seed)
    model = TdnnfModel(config, 7)
    model.set_dropout(0.5)  # dropout on: the recomputation must switch it off
    return model


def make_batches(seed: int = 1) -> List[Dict]:
    """Two minibatches as AsrDataset makes them: padded to the longest cut."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for lens in ([31, 17, 24], [20]):
        T = max(lens)
        out.append(
            {
                "feats": torch.randn(len(lens), T, 5, generator=g) * 3 + 1,
                "ivectors": torch.randn(len(lens), (T + 9) // 10, 3, generator=g),
                "feat_lens": torch.tensor(lens),
            }
        )
    return out


def test_only_the_batchnorm_statistics_change():
    model = tiny_model()
    model.train()
    with torch.no_grad():  # averaged-looking statistics to start from
        for b in make_batches(seed=9):
            model(b["feats"], b["ivectors"], b["feat_lens"])
    before = copy.deepcopy(model.state_dict())
    info = recompute_batchnorm_stats(model, make_batches())
    after = model.state_dict()
    assert model.training  # its mode is given back
    assert info["batches"] == 2
    bn_keys = [k for k in after if k.endswith(STATS)]
    assert len(bn_keys) == 3 * 9  # tdnn1, tdnnf2..7, prefinal's two
    for k, v in after.items():
        if k.endswith(STATS):
            assert not torch.equal(v, before[k]) or k.endswith("num_batches_tracked"), k
        else:
            assert torch.equal(v, before[k]), k
    assert all(int(after[k]) == 2 for k in bn_keys if k.endswith("num_batches_tracked"))


def _reference_inputs(model: TdnnfModel, batches: List[Dict]) -> Dict[str, List[np.ndarray]]:
    """Each batchnorm's input frames (C, n) over the valid frames, from a forward pass with
    batchnorm normalizing by batch statistics and dropout off, on a copy of the model."""
    ref = copy.deepcopy(model).eval()
    frames: Dict[str, List[np.ndarray]] = {}
    for name, m in ref.named_modules():
        if isinstance(m, MaskedBatchNorm1d):
            m.train()
            frames[name] = []

            def hook(mod, inp, out, name=name):
                x, lens = inp
                for i, n in enumerate(lens.tolist()):
                    frames[name].append(x[i, :, :n].double().numpy())

            m.register_forward_hook(hook)
    with torch.no_grad():
        for b in batches:
            ref(b["feats"], b["ivectors"], b["feat_lens"])
    return frames


def test_recomputed_statistics_are_those_of_the_frames_by_hand():
    model = tiny_model()
    batches = make_batches()
    frames = _reference_inputs(model, batches)
    recompute_batchnorm_stats(model, batches)
    modules = dict(model.named_modules())

    # tdnn1's input, written out from the pieces: lda -> affine -> relu on each cut's frames
    tdnn1 = []
    with torch.no_grad():
        for b in batches:
            out_lens = model.num_output_frames(b["feat_lens"])
            x = model.lda(model.gather_input(b["feats"], b["ivectors"], b["feat_lens"]))
            h = F.relu(model.layers["tdnn1"].affine(x))
            for i, n in enumerate(out_lens.tolist()):
                width = (n - 1) * 3 + 1 + 2 * sum(model.config.time_strides)
                tdnn1.append(h[i, :, :width].double().numpy())
    # (ceil(T / 3) - 1) * 3 + 1 frames plus 11 of context each side, for T = 31, 17, 24, 20
    assert [a.shape[1] for a in tdnn1] == [53, 38, 44, 41]
    by_hand = {"layers.tdnn1.batchnorm": tdnn1, **frames}
    for name, parts in by_hand.items():
        valid = np.concatenate(parts, axis=1)
        n = valid.shape[1]
        mean = valid.sum(axis=1) / n
        var = ((valid - mean[:, None]) ** 2).sum(axis=1) / n  # Kaldi: sumsq / n - mean^2
        bn = modules[name]
        np.testing.assert_allclose(bn.running_mean.numpy(), mean, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(bn.running_var.numpy(), var, rtol=1e-4, atol=1e-5)
    assert len(frames) == 9


def test_no_batches_is_an_error():
    with pytest.raises(UserError, match="no training minibatch"):
        recompute_batchnorm_stats(tiny_model(), [])


def test_write_final_recomputes_the_averaged_statistics(tmp_path):
    meta = {"model_config": {}, "num_outputs": 7, "cmvn": None}
    for epoch, seed in ((1, 3), (2, 4), (3, 5)):
        torch.save(dict(meta, model=tiny_model(seed).state_dict()), tmp_path / f"epoch-{epoch}.pt")
    chosen = [tmp_path / "epoch-2.pt", tmp_path / "epoch-3.pt"]
    average = average_state_dicts(chosen)

    model = tiny_model()
    write_final(tmp_path, 2, lambda s: recompute_state_stats(model, s, make_batches()))
    final = torch.load(tmp_path / "final.pt")
    assert final["averaged"] == ["epoch-2.pt", "epoch-3.pt"]
    assert final["batchnorm_recomputed"] == {"batches": 2}

    reference = tiny_model()
    reference.load_state_dict(average)
    recompute_batchnorm_stats(reference, make_batches())
    for k, v in final["model"].items():
        if k.endswith(STATS):
            assert torch.equal(v, reference.state_dict()[k]), k
            assert not torch.equal(v, average[k]) or k.endswith("num_batches_tracked")
        else:
            assert torch.equal(v, average[k]), k

    write_final(tmp_path, 2)  # without: the plain average, as before
    final = torch.load(tmp_path / "final.pt")
    assert "batchnorm_recomputed" not in final
    assert all(torch.equal(v, average[k]) for k, v in final["model"].items())


def test_the_trainer_recomputes_final_statistics(yesno_tdnnf):
    """conf/mini/lfmmi.conf --recompute-stats-batches: the yes/no training's final.pt."""
    final = torch.load(yesno_tdnnf / "final.pt")
    assert final["batchnorm_recomputed"]["batches"] > 0
    average = average_state_dicts([yesno_tdnnf / p for p in final["averaged"]])
    changed = [k for k, v in final["model"].items() if not torch.equal(v, average[k])]
    assert changed and all(k.endswith(STATS) for k in changed)


def test_the_xent_branch_statistics_are_recomputed_over_valid_frames():
    """The branch's batchnorms are reached (xent forward) and count the valid output frames
    only: ceil(T / 3) per cut (11 + 6 + 8 and 7), not the padded 3 x 11 + 7."""
    torch.manual_seed(3)
    model = TdnnfModel(tiny_model().config, 7, xent_branch=True)
    info = recompute_batchnorm_stats(model, make_batches())
    for i in (1, 2):
        assert info["frames"][f"xent.prefinal-xent.batchnorm{i}"] == 11 + 6 + 8 + 7
    assert info["frames"]["layers.prefinal.batchnorm1"] == 11 + 6 + 8 + 7
