"""Figures published by Zhou & Beigi (Tables 1-3 and quoted baselines), printed beside ours."""

CLASSES = ["ang", "exc", "neu", "sad"]

# Table 1: utterances per session and class (ang, exc, neu, sad).
TABLE1 = {
    1: {"ang": 229, "exc": 143, "neu": 384, "sad": 194},
    2: {"ang": 137, "exc": 210, "neu": 362, "sad": 197},
    3: {"ang": 240, "exc": 151, "neu": 320, "sad": 305},
    4: {"ang": 327, "exc": 238, "neu": 258, "sad": 143},
    5: {"ang": 170, "exc": 299, "neu": 384, "sad": 245},
}
TABLE1_TOTAL = 4936

# Table 2: UA (%) on Session 5 by the layer the bottleneck was cut from.
TABLE2 = {"prefinal": 63.4, "tdnnf13": 69.3, "tdnnf12": 66.7}
TABLE2_NAMES = {"prefinal": "prefinal", "tdnnf13": "layer 13", "tdnnf12": "layer 12"}

# Table 3: UA (%) per held-out session and the mean.
TABLE3 = {1: 65.3, 2: 78.9, 3: 71.1, 4: 73.9, 5: 69.3}
TABLE3_MEAN = 71.7

WER_TEDLIUM_TEST = 7.6

BASELINES = {"RNN-ELM": 63.9, "Conv-LSTM": 68.8, "CTC-BLSTM": 54.0}


def layer_display_name(layer: str) -> str:
    """``tdnnf13`` -> ``layer 13`` (the paper's numbering); other names unchanged."""
    if layer.startswith("tdnnf") and layer[5:].isdigit():
        return f"layer {int(layer[5:])}"
    return layer
