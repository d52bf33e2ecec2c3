"""Audio: bytes of any common container decoded to 16 kHz mono float32 once (decode.py), and Whisper's log-mel
features computed from them in numpy (features.py)."""
