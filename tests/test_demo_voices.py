"""The demo voice draw: more train voices never change the held-out or IEMOCAP voices."""

from __future__ import annotations

from asr2emo.data.demo import all_speakers, resolve_params


def variant(speaker) -> str:
    return speaker.voice.split("+", 1)[1]


def test_extra_train_voices_keep_the_first_draw_and_spare_dev_test():
    base = all_speakers(resolve_params("demo", {"train_talks": 14}), 0)
    more = all_speakers(resolve_params("demo", {"train_talks": 84}), 0)
    for key, spk in base.items():  # dev/test, IEMOCAP and the first train voices are unchanged
        assert more[key] == spk, key
    held_out = {variant(s) for k, s in more.items() if k.startswith(("ted-dev", "ted-test"))}
    extra = [s for k, s in more.items() if k.startswith("ted-train") and k not in base]
    assert len(extra) == 70
    assert not {variant(s) for s in extra} & held_out  # unseen voices stay unseen
    voices = [(s.voice, s.pitch, s.rate) for s in more.values()]
    assert len(set(voices)) == len(voices)  # every speaker is a distinct voice


def test_extra_train_voices_take_the_extra_variants_first():
    from asr2emo.data.demo.voices import EXTRA_FEMALE_VARIANTS, EXTRA_MALE_VARIANTS

    more = all_speakers(resolve_params("demo", {"train_talks": 84}), 0)
    train = {variant(s) for k, s in more.items() if k.startswith("ted-train")}
    assert set(EXTRA_FEMALE_VARIANTS) | set(EXTRA_MALE_VARIANTS) <= train
    base = all_speakers(resolve_params("demo", {"train_talks": 14}), 0)
    assert not {variant(s) for s in base.values()} & (
        set(EXTRA_FEMALE_VARIANTS) | set(EXTRA_MALE_VARIANTS)
    )  # only the extra train speakers draw them
    assert "anikaRobot" not in train  # anika's formant twin
