"""Any grid file either becomes a valid grid or is refused with one ConfigError line: never another exception."""
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.config import GRID_AXES, RUN_FIELD_NAMES, GridConfig
from bakeoff.config.gridfile import load_grid_file
from bakeoff.errors import ConfigError
from bakeoff.models.options import grid_runs

KEYS = sorted(set(GRID_AXES) | set(RUN_FIELD_NAMES) - set(GRID_AXES.values())) + ["bogus", "out"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(["mlp", "cnn4", "adam", "sgd", "5e-4", "1e2", "1.5",
                                                           "none", "imagenet", "onecycle", "60s", "0,0", "nan"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                      max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=5))
def test_any_grid_file_is_a_grid_or_one_config_error(tmp_path, grid):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(grid))
    try:
        options = load_grid_file(path)
        options.pop("out", None)
        runs = grid_runs(GridConfig.from_options(options))
    except ConfigError as e:
        assert "\n" not in str(e) and len(str(e)) < 2000
    else:
        assert runs and len({r.run_id for r in runs}) == len(runs)  # distinct settings, distinct folders
