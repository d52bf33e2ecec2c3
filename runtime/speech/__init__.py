"""Speech recognition: Whisper in onnxruntime (whisper/), the pocketsphinx stand-in (pocketsphinx.py), the
transcript both produce (transcript.py) and Workers AI's output shapes made from it (outputs.py)."""
