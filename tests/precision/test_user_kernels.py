"""A user's kernel (`package.module:function`, `Kernel.from_callable`): the contract and its one-line errors, `verify`
on deliberately broken kernels and on right ones, and the machine's CPU dispatch recorded."""
import numpy as np
import pytest

from precision.common.devices import cpu_dispatch, cpu_flags, device_description, supported_capabilities
from precision.kernels.certificate import verify, write_certificate
from precision.kernels.registry import Kernel, KernelError, get_kernel, kernel_versions
from precision.kernels.scan import agreement, kernel_thresholds, two_class_rows
from softmax_sat import main
from tests.precision import broken_kernels as bk

MOD = "tests.precision.broken_kernels"
X = np.array([[30.0, 0.0], [3.0, 0.0]], dtype=np.float32)


def test_module_function_is_a_kernel_with_no_model():
    k = get_kernel(f"{MOD}:stable")
    assert k.user and k.name == f"{MOD}:stable" and not k.has_model and k.emulation("float16") is None
    assert k.dtypes == ("float16", "bfloat16", "float32", "float64") and get_kernel(f"{MOD}:stable") is k
    p = k(X, "float32")
    assert p.dtype == np.float32 and p[0, 0] == 1 and 0.95 < p[1, 0] < 0.96
    assert get_kernel("numpy").has_model and get_kernel("numpy").emulation("float32").algorithm == "shifted"


def test_a_module_attribute_that_is_a_kernel_keeps_what_it_states():
    k = get_kernel(f"{MOD}:stable_kernel")  # a function: wrapped as a kernel itself (it returns a Kernel)
    assert k.name == f"{MOD}:stable_kernel"
    built = bk.stable_kernel()
    assert Kernel.from_callable(built) is built and built.dtypes == ("float16", "bfloat16")
    with pytest.raises(KernelError, match="does not take dtype 'float32'"):
        built.check("float32")


@pytest.mark.parametrize("spec, message", [
    ("no_such_package.mod:f", r"^kernel: no_such_package.mod:f: cannot import no_such_package.mod \(ModuleNotFound"),
    (f"{MOD}:absent", f"{MOD} has no attribute 'absent'"),
    (f"{MOD}:NOT_CALLABLE", "NOT_CALLABLE: a float is not callable"),
    ("tf", "unknown 'tf'.*package.module:function"),
])
def test_a_kernel_that_cannot_be_had_is_one_line(spec, message):
    with pytest.raises(KernelError, match=message) as e:
        get_kernel(spec)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("name, message", [
    ("raises_on_large", r"kernel .*raises_on_large raised ValueError: logit above 20 on input row 0 \[30, 0\] "
                        r"\(float32\)"),
    ("wrong_shape", r"returned shape \(4,\) for a \(4, 2\) float32 input"),
    ("wrong_dtype", "returned float64 values for float32 input"),
    ("naive", None),  # finite on ordinary logits: no contract error (its NaN at large gaps is verify's finding)
    ("log_without_saying", r"returned out of range -\d.* for the finite input row \[4, -4\] \(float32\).*log_space"),
])
def test_a_kernel_that_breaks_the_contract_is_named_with_its_first_offending_input(name, message):
    k = get_kernel(f"{MOD}:{name}")
    if message is None:
        k(X, "float32")
        return
    with pytest.raises(KernelError, match=message) as e:
        k(X, "float32")
    assert "\n" not in str(e.value) and isinstance(e.value, ValueError)


def test_non_finite_output_for_ordinary_logits_is_a_contract_error():
    k = Kernel.from_callable(lambda x: np.full_like(x, np.nan), name="nan-kernel")
    with pytest.raises(KernelError, match=r"kernel nan-kernel returned non-finite nan at class 0 for the finite "
                                          r"input row \[4, -4\] \(float16\)"):
        k(X, "float16")


def test_log_space_kernels_are_checked_as_log_probabilities():
    k = Kernel.from_callable(bk.log_without_saying, log_space=True, name="log")
    p = k(X, "float32")
    assert p[0, 0] == 0.0 and k.saturated(p, np.array([0, 0]))[0].tolist() == [True, False]


def test_command_line_errors_exit_2_in_one_line(capsys):
    assert main(["thresholds", "--kernel", "no_such_package.mod:f", "--dtype", "float16"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot import no_such_package.mod" in err
    assert main(["thresholds", "--kernel", f"{MOD}:wrong_dtype", "--dtype", "float16"]) == 2
    assert "returned float64 values for float16 input" in capsys.readouterr().err


def test_thresholds_of_a_user_kernel_on_the_command_line(capsys):
    assert main(["thresholds", "--kernel", f"{MOD}:stable", "--dtype", "bfloat16"]) == 0
    out = capsys.readouterr().out
    assert '"kernel": "tests.precision.broken_kernels:stable"' in out
    torch_like = kernel_thresholds("torch-float32" if get_kernel("torch").available() else f"{MOD}:stable",
                                   "bfloat16", 2)
    assert kernel_thresholds(f"{MOD}:stable", "bfloat16", 2).top_is_one_from_gap == torch_like.top_is_one_from_gap


# --- verify on any kernel ------------------------------------------------------------------------------------
def test_verify_finds_the_naive_kernels_nan_and_says_it_first_by_gap():
    c = verify(f"{MOD}:naive", "float16", 2, progress=False)
    assert not c.holds and not c.nan_free and not c.monotone and not c.never_leaves_one
    assert c.nan_from_gap == 11.09375  # ln(65504) ≈ 11.09: exp overflows
    assert len(c.counterexamples) == 3 and c.counterexample.startswith("top output not monotone")
    nan = "NaN for finite input from gap 11.09375 (input row [11.09375, 0]"
    assert any(s.startswith(nan) for s in c.counterexamples)


def test_verify_finds_a_sum_in_the_low_precision_dtype():
    c = verify(f"{MOD}:low_precision_sum", "float16", 10, progress=False)
    assert c.monotone and c.never_leaves_one and c.nan_free and not c.sum_bounded and not c.holds
    assert c.others_when_one_max_ulps > 8  # nine rivals absorbed one at a time: up to 9u of mass left out
    assert c.counterexample.startswith("top output exactly 1 while the others sum to")
    assert verify(f"{MOD}:low_precision_sum", "float16", 2, progress=False).holds  # one rival: a correct sum


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_verify_finds_a_top_output_that_leaves_1(dtype):
    c = verify(f"{MOD}:leaves_one", dtype, 2, progress=False)
    assert c.nan_free and not c.never_leaves_one and not c.monotone and not c.holds
    assert c.top_not_one_after_first[0][0] > 80  # the fast exp wraps past −88
    assert any(s.startswith("top output leaves 1: exactly 1 from gap") for s in c.counterexamples)


@pytest.mark.parametrize("classes, rivals", [(2, "equal"), (10, "equal"), (10, "one")])
def test_verify_certifies_a_right_kernel(classes, rivals, tmp_path):
    c = verify(f"{MOD}:stable", "bfloat16", classes, rivals, progress=False)
    assert c.holds and c.sum_bounded and c.counterexample is None and c.others_zero_from_gap is not None
    assert c.others_when_one_max_ulps <= 0.5  # rounded once: at most half an ulp of mass left
    path = write_certificate(c, tmp_path)
    assert path.name == f"verify-{MOD}_stable-bfloat16-M{classes}-{rivals}.json"
    assert '"counterexample": null' in path.read_text()


def test_verify_exit_codes_on_the_command_line(tmp_path, capsys):
    assert main(["verify", "--kernel", f"{MOD}:stable", "--dtype", "float16", "--out", str(tmp_path)]) == 0
    assert main(["verify", "--kernel", f"{MOD}:naive", "--dtype", "float16", "--out", str(tmp_path)]) == 1
    assert main(["verify", "--kernel", f"{MOD}:wrong_shape", "--dtype", "float16", "--out", str(tmp_path)]) == 2


def test_a_user_torch_kernel_is_certified_as_the_built_in_one():
    pytest.importorskip("torch")
    mine = verify(bk.make_torch_kernel(), "float16", 2, progress=False).as_dict()
    builtin = verify("torch", "float16", 2, progress=False).as_dict()
    for key in ("kernel", "call", "seconds", "date", "versions"):
        mine.pop(key), builtin.pop(key)
    assert mine == builtin


def test_a_user_kernel_has_no_agreement_to_claim():
    a = agreement(f"{MOD}:stable", "bfloat16", two_class_rows("bfloat16"), "every two-class gap")
    assert (a.model, a.compared, a.bit_for_bit) == ("none", 0, False)


def test_the_report_takes_a_user_kernel(tmp_path):
    from precision.report.compute import compute_kernels
    data = compute_kernels([bk.stable_kernel()], (2,))
    assert data["kernels"]["stable-16"]["model"]["float16"]["algorithm"] is None
    assert {a["model"] for a in data["agreement"]} <= {"none"}
    assert data["thresholds"][0]["top_is_one_from_gap"] is not None


def test_saturation_of_rows_with_a_user_kernel():
    from precision.logits.rows import saturation_of
    s = saturation_of([[30.0, 0.0], [3.0, 0.0]], dtypes=("bfloat16",), kernel=f"{MOD}:stable")["bfloat16"]
    assert s.top_is_one.tolist() == [True, False]


# --- the CPU dispatch path -----------------------------------------------------------------------------------
def test_the_machine_is_recorded_with_torchs_cpu_path():
    d = cpu_dispatch(torch=False)
    assert {"platform", "processor", "cpu_flags"} <= set(d) and "torch_cpu_capability" not in d
    assert supported_capabilities()[0] == "default"
    if "avx2" in cpu_flags() and "fma" in cpu_flags():
        assert "avx2" in supported_capabilities()
    torch = pytest.importorskip("torch")
    v = kernel_versions([get_kernel("torch")])
    assert v["torch_cpu_capability"].startswith(str(torch.backends.cpu.get_cpu_capability()))
    assert "torch CPU path" in device_description("cpu")
    assert "torch_cpu_capability" not in kernel_versions([get_kernel("numpy")])


def test_torch_cpu_paths_measured_in_subprocesses_and_compared():
    pytest.importorskip("torch")
    from precision.report.dispatch import compare_paths
    from precision.report.kernel_sections import cpu_paths_markdown
    widest = supported_capabilities()[-1]
    data = compare_paths(kernels=("torch",), dtypes=("bfloat16",), classes=(2,), capabilities=("default", widest))
    md = cpu_paths_markdown(data)
    assert data["ran"] == {"default": "DEFAULT", widest: widest.upper()} and len(data["rows"]) == 1
    row = data["rows"][0]
    assert row["paths"]["default"]["top_is_one_from_gap"] == 6.25  # bfloat16 widened to float32, rounded once
    assert row["agree"] and "| torch | bfloat16 | 2 | equal | 6.25 | 6.25 |" in md and "## torch's CPU code paths" in md


def test_where_the_paths_disagree_the_report_says_so_with_the_models(monkeypatch):
    from precision.report import dispatch
    from precision.report.kernel_sections import cpu_paths_markdown
    gaps = {"default": 8.3203125, "avx2": 7.625}

    def fake(capability, configs):
        return {"capability": capability.upper(), "rows": [
            {"kernel": k, "dtype": d, "classes": m, "rivals": r, "top_is_one_from_gap": gaps[capability],
             "others_zero_from_gap": 17.5, "nan_from_gap": None} for k, d, m, r in configs]}
    monkeypatch.setattr(dispatch, "measure_path", fake)
    monkeypatch.setattr(dispatch, "supported_capabilities", lambda: ("default", "avx2"))
    data = dispatch.compare_paths(kernels=("torch",), dtypes=("float16",), classes=(2,))
    md = cpu_paths_markdown(data)
    row = data["rows"][0]
    assert not row["agree"] and "The paths disagree on 1 of 1 configurations." in md
    assert any("accumulate float32" in m for m in row["models"]["default"])  # rounded once: 8.32
    assert "shifted, sequential" in row["models"]["avx2"]  # every operation in float16: 7.625
    with pytest.raises(ValueError, match="cannot run avx512"):
        dispatch.compare_paths(capabilities=("avx512",))


@pytest.mark.slow
def test_the_gpu_check_runs_end_to_end_on_the_cpu(tmp_path):
    pytest.importorskip("torch")
    import importlib.util
    from pathlib import Path
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    assert gpu_check.main(["--device", "cpu", "--quick", "--budget", "300", "--out", str(tmp_path)]) == 0
    import json
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["kernel"] for r in results["kernels"]} == {"torch", "user-torch-softmax"}
    assert results["verify"]["gaps_evaluated"] == 1 << 22 and (tmp_path / "results.md").exists()
