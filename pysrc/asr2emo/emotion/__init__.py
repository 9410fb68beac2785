"""The emotion head of the paper: frame-level classifier on ASR bottleneck features.

Modules: :mod:`.data` (bottleneck cuts -> frame matrix), :mod:`.folds` (leave-one-session-out
folds with a validation speaker), :mod:`.head` (standardizer + dense head), :mod:`.aggregate`
(frame posteriors -> utterance decisions), :mod:`.metrics` (UA, WA, confusion), :mod:`.train`
(one fold, the cross-validation and the deployable head), :mod:`.settings` (stage 8's options
and the one reader of its conf for the verbs that reuse it).
"""
