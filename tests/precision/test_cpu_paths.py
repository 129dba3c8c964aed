"""torch's CPU code paths, each measured in a process forced onto it: the figures the README quotes per path."""
import pytest

from precision.common.devices import supported_capabilities

pytest.importorskip("torch")

# torch.softmax, float32, 1000 equal rivals: the first gap with top output exactly 1 on each path (README)
README_FIGURES = {"default": 21.463848114013672, "avx2": 22.850143432617188,
                  "avx512": 22.850141525268555}


@pytest.mark.parametrize("capability", sorted(README_FIGURES))
def test_each_cpu_path_gives_the_figure_the_readme_quotes(capability):
    if capability not in supported_capabilities():
        pytest.skip(f"this processor cannot run torch's {capability} path")
    from precision.report.dispatch import measure_path
    got = measure_path(capability, [("torch", "float32", 1000, "equal"), ("torch", "float32", 1000, "one")])
    assert got["capability"] == capability.upper()
    equal, one = got["rows"]
    assert equal["top_is_one_from_gap"] == README_FIGURES[capability]
    assert one["top_is_one_from_gap"] == 16.63553237915039  # one rival: every path agrees
