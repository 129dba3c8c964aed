"""Bad user kernels, as a new user hands them in: each one refused in one line (exit 2 on the command line) or made
harmless, and the tool's own process left as it was."""
import json
import os
import sys
import textwrap

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.kernels.errors import KernelError
from precision.kernels.registry import get_kernel
from precision.kernels.scan import kernel_thresholds
from precision.logits.rows import saturation_of
from precision.testing import SoftmaxConformanceError, assert_softmax_conforms
from softmax_sat import main

STABLE = """
import numpy as np

def stable(x):
    w = x.astype(np.float32)
    e = np.exp(w - w.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)
"""


@pytest.fixture
def module(tmp_path, monkeypatch):
    """Writes a kernel module into a fresh current folder; returns its name."""
    monkeypatch.chdir(tmp_path)

    def write(name: str, body: str) -> str:
        (tmp_path / f"{name}.py").write_text(STABLE + textwrap.dedent(body))
        return name
    yield write


def test_a_kernel_that_writes_into_its_input_corrupts_nothing(module):
    name = module("bk_inplace", """
        def inplace(x):
            x[...] = stable(x)
            return x
        """)
    assert kernel_thresholds(f"{name}:inplace", "float16").top_is_one_from_gap == \
        kernel_thresholds(f"{name}:stable", "float16").top_is_one_from_gap == 8.3203125
    rows = np.array([[8.5, 0.0], [3.0, 0.0]])
    s = saturation_of(rows, ("float16",), f"{name}:inplace", exact_distance=True)["float16"]
    assert rows.tolist() == [[8.5, 0.0], [3.0, 0.0]] and s.threshold.tolist() == [8.3203125, 8.3203125]


def test_a_kernel_normalising_the_whole_batch_is_refused(module):
    name = module("bk_batch", """
        def batch(x):
            w = x.astype(np.float32)
            e = np.exp(w - w.max())
            return (e / e.sum()).astype(x.dtype)
        """)
    with pytest.raises(KernelError, match="normalises each row"):
        kernel_thresholds(f"{name}:batch", "float16")


def test_sys_exit_in_a_kernel_is_an_error_not_an_exit(module, capsys):
    name = module("bk_exit", """
        def exits(x):
            import sys
            sys.exit(0)
        """)
    assert main(["thresholds", "--kernel", f"{name}:exits", "--dtype", "float16"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "called sys.exit(0)" in err
    module("bk_exit_import", "import sys\nsys.exit(3)\n")
    assert main(["thresholds", "--kernel", "bk_exit_import:stable", "--dtype", "float16"]) == 2
    assert "importing bk_exit_import called sys.exit(3)" in capsys.readouterr().err


def test_a_kernel_cannot_move_the_working_folder_or_the_import_path(module, tmp_path):
    name = module("bk_state", """
        import os
        import sys
        sys.path.insert(0, "/nowhere-at-import")

        def wanders(x):
            os.chdir("/")
            sys.path.insert(0, "/nowhere")
            return stable(x)
        """)
    path = list(sys.path)
    kernel = get_kernel(f"{name}:wanders")
    assert kernel_thresholds(kernel, "float16").top_is_one_from_gap == 8.3203125
    assert os.getcwd() == str(tmp_path) and sys.path == path


@pytest.mark.parametrize("stdlib", ["json", "glob"])
def test_a_kernel_module_named_like_a_standard_module_is_refused(module, stdlib):
    module(stdlib, "")
    with pytest.raises(KernelError, match=f"named like the standard module {stdlib}"):
        get_kernel(f"{stdlib}:stable")


def test_saturation_of_takes_a_function():
    def stable(x):
        w = x.astype(np.float32)
        e = np.exp(w - w.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(x.dtype)
    s = saturation_of([[30.0, 0.0], [3.0, 0.0]], ("float16",), kernel=stable)["float16"]
    assert s.top_is_one.tolist() == [True, False]


def test_the_conformance_assertion_checks_what_it_is_given():
    def nan(x):
        return np.full_like(x, np.nan)

    def raises(x):
        raise RuntimeError("boom")
    with pytest.raises(InputError, match="classes"):
        assert_softmax_conforms(nan, dtypes=("float16",), classes=(10 ** 9,))  # refused before allocating
    for options in ({"classes": ()}, {"rivals": ()}, {"classes": (2,), "rivals": ("one",)}):
        with pytest.raises(InputError, match="no configuration to check"):
            assert_softmax_conforms(nan, dtypes=("float16",), **options)
    with pytest.raises(SoftmaxConformanceError, match="boom"):
        assert_softmax_conforms(raises, dtypes=("float16",), classes=(2,), max_examples=5)


@pytest.mark.parametrize("options, message", [
    (["--softcap", "1e-300"], "1e-300 is 0.0 in float16"),
    (["--softcap", "1e5"], "100000.0 is inf in float16"),
    (["--dtype", "float8_e4m3fn", "--softcap", "1000"], "1000.0 is nan in float8_e4m3fn"),
])
def test_a_cap_the_dtype_cannot_hold_is_refused_before_the_scan(options, message, capsys):
    args = ["thresholds", "--kernel", "numpy", "--dtype", "float16"] + options
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--softcap" in err and message in err


def test_a_temperature_no_gap_reaches_gives_null_not_a_crash(capsys):
    assert main(["thresholds", "--kernel", "numpy", "--dtype", "float16", "--temperature", "1e300",
                 "--softcap", "30"]) == 0
    setting = json.loads(capsys.readouterr().out)["setting"]
    assert setting["raw_gap"] is None and setting["cap_prevents_top_one"] is True


def test_an_error_of_a_kernel_in_the_report_names_kernels(module, tmp_path, capsys):
    name = module("bk_late", """
        def late(x):
            return np.full_like(x, 2.0) if x.shape[1] > 2 else stable(x)
        """)
    out = tmp_path / "out"
    assert main(["report", "--kernels", f"{name}:late", "--formats", "float16", "--kernel-classes", "2,10",
                 "--vocabulary", "none", "--no-figures", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("softmax-sat report: error: --kernels: kernel bk_late:late returned out of range 2.0")
    assert not out.exists() or not any(out.iterdir())  # nothing left behind


def test_a_warning_over_several_lines_is_shown_as_one(module, capsys):
    name = module("bk_warns", """
        import warnings

        def warns(x):
            warnings.warn("first line\\n  second line\\n(Triggered internally at x.cpp:1.)", UserWarning)
            return stable(x)
        """)
    assert main(["thresholds", "--kernel", f"{name}:warns", "--dtype", "float16", "--classes", "2"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(err) == 1 and err[0].startswith(
        "softmax-sat thresholds: warning: UserWarning: first line second line (Triggered internally at x.cpp:1.) (")
    assert err[0].endswith(f"{name}.py:12)")  # the kernel's line (the module starts with STABLE)
