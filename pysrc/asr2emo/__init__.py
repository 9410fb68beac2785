"""asr2emo: speech emotion recognition by transfer from an LF-MMI TDNN-F ASR acoustic model."""

import os

__version__ = "0.1.0"

# lhotse reads .sph through an external sph2pipe binary by default; TED-LIUM's .sph files are
# plain 16-bit PCM, which libsndfile reads. Choosing lhotse's libsndfile backend here (unless the
# user chose one) makes the recipe's own manifests loadable wherever asr2emo is imported, not
# only under path.sh. lhotse reads the variable when it first loads audio. utils/setup_env.sh
# also writes it into the environment's site-packages (.pth), for code that imports only lhotse.
AUDIO_BACKEND = "LibsndfileBackend"
os.environ.setdefault("LHOTSE_AUDIO_BACKEND", AUDIO_BACKEND)
