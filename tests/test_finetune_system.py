"""Fine-tuning the top k TDNN-F layers: the split network equals the frozen model, only the top
k layers change, and the cross-validation over k runs on stage 8's folds."""

import json

import numpy as np
import pytest
import torch

from asr2emo.emotion.data import FrameData
from asr2emo.emotion.folds import make_folds
from asr2emo.emotion.train import HeadConfig, cross_validate
from asr2emo.finetune.data import UttInputs
from asr2emo.finetune.system import TrainableTop, bottom_outputs, layer_span
from asr2emo.finetune.train import FinetuneConfig, finetune_fold, frozen_frames, run_finetune
from asr2emo.model import TdnnfConfig, TdnnfModel
from asr2emo.utils.errors import UserError

TINY = dict(
    ivector_dim=4,
    num_layers=7,
    hidden_dim=16,
    bottleneck_dim=6,
    prefinal_dim=8,
    time_strides=[1, 1, 0, 3, 3, 3],
    dropout_schedule="0",
)
CLASSES = ["ang", "exc", "neu", "sad"]


def _model(seed=0):
    torch.manual_seed(seed)
    model = TdnnfModel(TdnnfConfig(**TINY), 10)
    g = torch.Generator().manual_seed(seed)
    for name, buf in model.named_buffers():  # non-trivial batchnorm statistics
        if name.endswith("running_mean"):
            buf.copy_(torch.randn(buf.shape, generator=g) * 0.1)
        elif name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=g) + 0.5)
    return model.eval()


def _inputs(num_sessions=3, per_speaker=8, seed=0) -> UttInputs:
    """Class-dependent MFCC offsets, two speakers per session (IEMOCAP-like ids)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(len(CLASSES), 40)) * 1.5
    feats, ivecs, ids, spk, ses, lab = [], [], [], [], [], []
    for s in range(1, num_sessions + 1):
        for g in "FM":
            for i in range(per_speaker):
                c = i % len(CLASSES)
                t = int(rng.integers(20, 60))
                feats.append((means[c] + rng.normal(size=(t, 40))).astype(np.float32))
                ivecs.append(rng.normal(size=((t + 9) // 10, 4)).astype(np.float32))
                ids.append(f"Ses0{s}{g}_impro01_{g}{i:03d}")
                spk.append(f"Ses0{s}{g}")
                ses.append(s)
                lab.append(c)
    return UttInputs(feats, ivecs, ids, spk, np.asarray(ses), np.asarray(lab), CLASSES)


@pytest.mark.parametrize("layer,k", [("tdnnf6", 0), ("tdnnf6", 2), ("tdnnf3", 1), ("prefinal", 4)])
def test_split_network_equals_frozen_model(layer, k):
    model = _model()
    inputs = _inputs(num_sessions=1, per_speaker=3)
    first, last = layer_span(model, layer, k)
    assert last - first + 1 == k and model.layer_names[last] == layer
    top = TrainableTop(model, layer, k)
    bottoms = bottom_outputs(model, inputs.feats, inputs.ivectors, first)
    out_lens = torch.tensor([model.num_output_frames(len(f)) for f in inputs.feats])
    with torch.no_grad():
        batch = top(bottoms, out_lens)  # right-padded batch of different lengths
    for j, (f, iv) in enumerate(zip(inputs.feats, inputs.ivectors)):
        ref = model.extract(torch.from_numpy(f)[None], torch.from_numpy(iv)[None], layer)[0]
        assert torch.allclose(batch[j, : out_lens[j]], ref, atol=1e-5)


def test_bad_k_is_user_error():
    with pytest.raises(UserError, match="finetune-k"):
        layer_span(_model(), "tdnnf3", 4)  # only tdnn1, tdnnf2, tdnnf3 up to it


def test_only_the_top_k_layers_change():
    model = _model()
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    inputs = _inputs()
    data = frozen_frames(model, inputs, "tdnnf6")
    fold = make_folds(data.sessions, data.speakers, seed=1)[0]
    from asr2emo.emotion.train import train_head

    head0 = train_head(data, fold.train, fold.val, HeadConfig(max_epochs=2, seed=1)).head
    first = layer_span(model, "tdnnf6", 2)[0]
    bottoms = bottom_outputs(model, inputs.feats, inputs.ivectors, first)
    # 4 epochs: over model seeds 0-2 x data seeds 0-2 x head seeds 1-2 (18 runs, 2026-12-01)
    # the best validation epoch was 1-4, never 0 (with 2 epochs, once 0 in 18).
    cfg = FinetuneConfig(layer="tdnnf6", ks=[2], lr_factor=1.0, max_epochs=4, patience=5)
    top, head, hist = finetune_fold(
        model, 2, head0, bottoms, data, fold, HeadConfig(lr=1e-2, seed=1), cfg
    )
    assert hist["epoch"] == [0, 1, 2, 3, 4] and hist["train_loss"][0] is None
    assert top.names == ["tdnnf5", "tdnnf6"]
    assert top.num_params() == sum(
        p.numel() for n in ("tdnnf5", "tdnnf6") for p in model.layers[n].parameters()
    )
    for n, p in model.named_parameters():  # the pretrained model itself is never modified
        assert torch.equal(p, before[n]), n
    assert hist["best_epoch"] > 0  # validation improved (seeded), so the top was trained
    moved = [
        n
        for n, p in top.named_parameters()
        if not torch.equal(p, model.layers[n.split(".")[1]].get_parameter(n.split(".", 2)[2]))
    ]
    assert {n.split(".")[1] for n in moved} == {"tdnnf5", "tdnnf6"}


def test_run_finetune_k0_is_stage8_and_folds_are_shared(tmp_path):
    model = _model(1)
    inputs = _inputs()
    head_cfg = HeadConfig(max_epochs=3, patience=2, batch_size=64, seed=2)
    cfg = FinetuneConfig(layer="tdnnf6", ks=[0, 1], max_epochs=2, patience=1, batch_frames=200)
    table = run_finetune(model, inputs, tmp_path / "ft", head_cfg, cfg)
    assert [r["k"] for r in table["rows"]] == [0, 1]
    assert table["rows"][1]["layers"] == ["tdnnf6"]

    # k=0 = stage 8 on the frozen model's layer output (computed independently here)
    rows = [
        model.extract(torch.from_numpy(f)[None], torch.from_numpy(iv)[None], "tdnnf6")[0]
        for f, iv in zip(inputs.feats, inputs.ivectors)
    ]
    data = FrameData(
        torch.cat(rows),
        np.concatenate([[0], np.cumsum([len(r) for r in rows])]),
        inputs.ids,
        inputs.speakers,
        inputs.sessions,
        inputs.labels,
        CLASSES,
    )
    ref = cross_validate(data, "tdnnf6", tmp_path / "stage8", head_cfg)
    k0 = json.loads((tmp_path / "ft" / "k0" / "metrics.json").read_text())
    assert k0["folds"] == ref["folds"] and k0["confusion"] == ref["confusion"]

    k1 = json.loads((tmp_path / "ft" / "k1" / "metrics.json").read_text())
    assert set(k1) >= {"ua", "wa", "ua_fold_mean", "folds", "aggregations", "confusion"}
    for fold in make_folds(inputs.sessions, inputs.speakers, head_cfg.seed):
        for k in (0, 1):
            recs = tmp_path / "ft" / f"k{k}" / f"fold-{fold.fold}" / "predictions.jsonl"
            got = [json.loads(x)["id"] for x in recs.read_text().splitlines()]
            assert got == [inputs.ids[u] for u in fold.test]
    assert (tmp_path / "ft" / "finetune.md").read_text().count("\n| ") == 3  # header + 2 rows


def test_finetune_report_section(tmp_path):
    from asr2emo.report.sweep import finetune_section

    model = _model(2)
    head_cfg = HeadConfig(max_epochs=2, patience=1, batch_size=64, seed=3)
    cfg = FinetuneConfig(layer="tdnnf6", ks=[0, 2], max_epochs=1, patience=1, batch_frames=200)
    table = run_finetune(model, _inputs(seed=1), tmp_path / "tdnnf6", head_cfg, cfg)
    lines, data = finetune_section(tmp_path)
    assert data["tdnnf6"]["rows"] == table["rows"]
    text = "\n".join(lines)
    assert "| 0 | none (frozen) |" in text and "| 2 | tdnnf5, tdnnf6 |" in text


def test_load_inputs_from_cuts(tmp_path):
    from lhotse import CutSet, Features, MonoCut, NumpyFilesWriter, SupervisionSegment

    from asr2emo.finetune.data import load_inputs

    rng = np.random.default_rng(0)
    cuts, arrays = [], {}
    with NumpyFilesWriter(tmp_path / "arrays") as w:
        for i, label in enumerate(["sad", "hap", "ang", "neu", "sad"]):
            cid = f"Ses0{i % 2 + 1}F_impro01_F{i:03d}"
            t = 30 + i
            f, iv = rng.normal(size=(t, 40)).astype(np.float32), rng.normal(size=(t // 10, 4))
            arrays[cid] = (f, iv.astype(np.float32))
            feats = Features(
                type="kaldi-mfcc-hires",
                num_frames=t,
                num_features=40,
                frame_shift=0.01,
                sampling_rate=16000,
                start=0,
                duration=t / 100,
                storage_type=w.name,
                storage_path=str(w.storage_path),
                storage_key=w.write(cid + "_f", f),
            )
            sup = SupervisionSegment(
                cid, cid, 0, t / 100, speaker=cid[:6], custom={"emotion": label, "session": 1}
            )
            cut = MonoCut(cid, 0, t / 100, 0, supervisions=[sup], features=feats)
            cut.ivector = w.store_array(cid + "_iv", iv.astype(np.float32), 0.1, temporal_dim=0)
            cuts.append(cut)
    inputs = load_inputs(CutSet.from_cuts(cuts), TdnnfConfig(**TINY), CLASSES)
    assert inputs.ids == [c.id for c in cuts if c.supervisions[0].custom["emotion"] != "hap"]
    assert inputs.labels.tolist() == [3, 0, 2, 3]  # sad, ang, neu, sad in CLASSES order
    for u, cid in enumerate(inputs.ids):
        np.testing.assert_array_equal(inputs.feats[u], arrays[cid][0])
        np.testing.assert_array_equal(inputs.ivectors[u], arrays[cid][1])
