"""bakeoff: train, compare and serve image classifiers under equal conditions."""
import os

# Before torch loads OpenMP: idle worker threads sleep instead of spinning. On a 2-core machine
# shared with any other busy process, spinning threads made a training step up to 20x slower
# (67 ms vs 3.7 ms per MLP step measured here); alone on the machine the two policies match.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
