"""Deployable emotion inference without torch or k2: onnxruntime, numpy, soundfile and
kaldi-native-fbank only.

An ``asr2emo export --format onnx`` directory (:mod:`.bundle`) holds the network as
``model.onnx`` and everything around it as plain arrays and JSON; :mod:`.mfcc`, :mod:`.resample`
and :mod:`.ivector` redo the feature side in numpy, :mod:`.predictor` runs a file and
:mod:`.timeline` a recording of any length in windows (:mod:`.windows`) by feeding its
blocks to :mod:`.streaming`, which takes live audio in chunks. Nothing in this package imports
torch, k2 or lhotse (a test checks it in a fresh interpreter).
"""
