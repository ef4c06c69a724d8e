"""Importing bakeoff changes nothing in the process; the command line applies its settings in one call."""
import json
import os
import subprocess
import sys

MODULES = ["bakeoff", "bakeoff.cli", "bakeoff.commands", "bakeoff.runs.grid", "bakeoff.runs.runner", "bakeoff.runs.executors",
           "bakeoff.report", "bakeoff.report.figures", "bakeoff.serve.app", "bakeoff.serve.export",
           "bakeoff.models.pretrained", "bakeoff.engine.stages", "bakeoff.analysis.autoencoder_views"]


def _python(code: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MPLBACKEND")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_every_module_leaves_the_process_as_it_was():
    seen = _python(f"""
import importlib, json, os, socket, sys
for name in ("torch", "numpy", "sklearn", "matplotlib", "PIL", "yaml", "rich", "fastapi", "onnxruntime"):
    importlib.import_module(name)  # what libraries do on import themselves (scikit-learn sets KMP_* variables)
before = dict(os.environ)
for name in {MODULES!r}:
    importlib.import_module(name)
from bakeoff.engine.heap import keep_freed_memory
import matplotlib
print(json.dumps({{"environ_changed": sorted(set(os.environ.items()) ^ set(before.items())),
                  "socket_timeout": socket.getdefaulttimeout(),
                  "heap_setting_applied": keep_freed_memory.cache_info().currsize,
                  "pyplot_loaded": "matplotlib.pyplot" in sys.modules,
                  "backend_chosen": matplotlib.rcParams._get_backend_or_none()}}))
""")
    assert seen == {"environ_changed": [], "socket_timeout": None, "heap_setting_applied": 0,
                    "pyplot_loaded": False, "backend_chosen": None}


def _settings_seen_by(argv: list[str]) -> dict:
    """Run the command line on argv in a fresh process; what the settings call saw and left."""
    return _python(f"""
import json, os, sys
import bakeoff.engine.process as process
real, calls = process.configure_process, []
def spy(**kwargs):
    calls.append(dict(kwargs, torch_loaded="torch" in sys.modules))
    return real(**kwargs)
process.configure_process = spy
from bakeoff.cli import main
try:
    main({argv!r})
except SystemExit:
    pass
from bakeoff.engine.heap import keep_freed_memory
print(json.dumps({{"calls": calls, "omp": os.environ.get("OMP_WAIT_POLICY"),
                  "heap_setting_applied": keep_freed_memory.cache_info().currsize}}))
""")


def test_the_command_line_applies_the_settings_before_torch_loads():
    # training has the cores to itself: OpenMP's threads keep their default short spin between operations
    seen = _settings_seen_by(["train", "--dataset", "no-such-dataset"])
    assert seen == {"calls": [{"shares_cores": False, "torch_loaded": False}], "omp": None,
                    "heap_setting_applied": 1}


def test_a_server_lets_its_openmp_threads_sleep_at_once():
    # its HTTP threads need the cores between forward passes
    seen = _settings_seen_by(["serve", "no-such-checkpoint.pt"])
    assert seen == {"calls": [{"shares_cores": True, "torch_loaded": False}], "omp": "PASSIVE",
                    "heap_setting_applied": 1}


def test_a_wait_setting_already_in_the_environment_is_kept():
    seen = _python("""
import json, os
os.environ["GOMP_SPINCOUNT"] = "1000"
from bakeoff.engine.process import configure_process
configure_process(shares_cores=True)
print(json.dumps({"omp": os.environ.get("OMP_WAIT_POLICY"), "spin": os.environ["GOMP_SPINCOUNT"]}))
""")
    assert seen == {"omp": None, "spin": "1000"}
