"""One full Coq build per test session (about a minute), shared by the tests that read its files or results."""
import os
import time

import pytest

from proofs.checkers import coq_build


@pytest.fixture(scope="session")
def coq_checked(tmp_path_factory):
    """(result of `coq_build.check`, its build folder with every .vo, seconds it took); skips without Coq."""
    if coq_build.coqc() is None:
        if os.environ.get("SOFTMAX_SAT_REQUIRE_COQ", "") not in ("", "0"):  # CI: a missing Coq fails, never skips
            pytest.fail(f"SOFTMAX_SAT_REQUIRE_COQ is set and {coq_build.INSTALL_HINT}")
        pytest.skip(coq_build.INSTALL_HINT)
    build = tmp_path_factory.mktemp("coq")
    start = time.perf_counter()
    result = coq_build.check(build_dir=build)
    return result, build, time.perf_counter() - start
