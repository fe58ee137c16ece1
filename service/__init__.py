"""Windwatch service: FastAPI app, database, CLI."""

import os

# torch uses libgomp, whose idle threads spin by default; on a busy 2-core host that turned a
# 10 ms spectrogram into 100 ms. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
