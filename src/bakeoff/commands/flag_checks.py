"""The domains of the flags of serve, predict, export and evaluate, checked before anything loads.

argparse checks the type (`--port x` is refused there); these check the range, so `--port 70000`,
`--threads 0` or `--max-upload-mb nan` are one line and exit 2 instead of a traceback from uvicorn or torch.
"""
from __future__ import annotations

import math

from ..errors import ConfigError, unknown_choice
from ..models.checkpoint_check import MAX_IMG_SIZE

MAX_THREADS = 256  # per request: beyond the cores of any one machine here, never faster
MAX_UPLOAD_MB = 500  # an upload is held in memory while it decodes; 10 (default) fits a 48 Mpixel phone JPEG
MIN_DECODE_MB = 32  # a 12 Mpixel phone JPEG decodes (at 1/4 scale) to ~3 MB; a 40 Mpixel PNG to 160 MB
MAX_DECODE_MB = 1024 * 1024  # 1 TB: beyond any machine, a typo
DEVICES = ("auto", "cpu", "cuda")  # as training takes them (config/run.py)


def check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {port}")


def check_threads(threads: int) -> None:
    if not 1 <= threads <= MAX_THREADS:
        raise ConfigError(f"--threads must be in 1..{MAX_THREADS}, got {threads}")


def check_upload_mb(mb: float) -> None:
    if not (math.isfinite(mb) and 0 < mb <= MAX_UPLOAD_MB):
        raise ConfigError(f"--max-upload-mb must be positive and at most {MAX_UPLOAD_MB}, got {mb}")


def check_decode_memory_mb(mb: float) -> None:
    if not (math.isfinite(mb) and MIN_DECODE_MB <= mb <= MAX_DECODE_MB):
        raise ConfigError(f"--decode-memory-mb must be in {MIN_DECODE_MB}..{MAX_DECODE_MB:,}, got {mb}")


def check_device(device: str) -> None:
    if device not in DEVICES:
        raise unknown_choice("device", device, DEVICES)


def check_top_k(k: int) -> None:
    if k < 1:
        raise ConfigError(f"--top-k must be at least 1, got {k}")


def check_img_size(img_size: int) -> None:
    if not 4 <= img_size <= MAX_IMG_SIZE:
        raise ConfigError(f"--img-size must be in 4..{MAX_IMG_SIZE}, got {img_size}")
