import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=60, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SHARED = Path(os.environ.get("SOFTMAX_SAT_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true", help="run the long real runs (marker: slow)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "slow" in item.keywords and not config.getoption("--run-slow"):
            item.add_marker(pytest.mark.skip(reason="long real run: pass --run-slow"))
        asked = "slow" in item.keywords and config.getoption("--run-slow")
        if "shared" in item.keywords and not SHARED.is_dir() and not asked:
            item.add_marker(pytest.mark.skip(reason=f"needs ../shared (looked in {SHARED})"))


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():  # reached only when a slow run was asked for: fail loudly, never skip silently
        pytest.fail(f"../shared is needed and missing (looked in {SHARED}; set SOFTMAX_SAT_SHARED)")
    return SHARED
