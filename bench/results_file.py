"""What every benchmark does with --json PATH: write its results there, making the folder if needed."""
from __future__ import annotations

import json
from pathlib import Path


def write_json(path: str | Path, results: dict | list) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
