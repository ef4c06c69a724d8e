"""bakeoff: train, compare and serve image classifiers under equal conditions."""
import os

# Before torch loads OpenMP: idle worker threads sleep instead of spinning. On a 2-core machine
# shared with another busy process, spinning threads made an MLP training step 18x slower
# (67 ms against 3.7 ms, measured on the development machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
