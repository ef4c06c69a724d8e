"""bakeoff: train, compare and serve image classifiers under equal conditions."""

# Importing bakeoff changes nothing in the process: the settings a training process wants (OpenMP's
# wait policy, glibc's heap) are applied by one explicit call, bakeoff.engine.process.configure_process().
__version__ = "0.1.0"

# The Python API (api.py), loaded on first use: `import bakeoff` stays light (no torch, no pandas).
_LAZY = {"compare": "api", "load": "api", "ComparisonResult": "results", "RunInfo": "results", "Report": "results",
         "TrainedModel": "serve.python_model", "BakeoffError": "errors", "ConfigError": "errors",
         "DatasetError": "errors"}
__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'bakeoff' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
