"""The constants check of an online softmax: an FP8 P's offset against the rescale threshold (flash-attention#2716/
#2717) and a finite −inf stand-in (flashinfer#4267), each decided exactly and shown on the emulated kernel."""
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from precision.emulated import online_constants as oc
from precision.emulated.online import OnlineSoftmax, attention_weights


def test_fa4_constants_clip_and_by_how_much():
    c = oc.fp8_cast_check(offset=8, rescale_threshold=8.0)
    assert c.clips and not c.constraint_holds
    assert c.largest_p == 2.0 ** 16 and c.weight_kept == 448 / 2 ** 16
    # the clip point: P = 2^(d + 8) reaches 448 + 16 (half e4m3's step at the top) at d = log2(464) − 8
    assert abs(c.clip_from_d - (math.log2(464) - 8)) < 1e-6
    assert c.flush_below_d == -18.0  # 2^(d + 8) < 2^-10, half e4m3's smallest subnormal, from d = −18 down


@settings(max_examples=12)
@given(st.integers(0, 10), st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0, 8.0]))
def test_the_constraint_rules_clipping_out(offset, tau):
    c = oc.fp8_cast_check(offset, tau)
    if c.constraint_holds:
        assert not c.clips
    assert c.clips == (tau + offset >= math.log2(464) - 1e-6)


def test_the_constraint_is_sufficient_not_necessary():
    """offset + τ = 8.83 > log2(448) = 8.807 breaks the constraint, yet P ≤ 2^8.83 = 455 rounds to 448: no clip."""
    c = oc.fp8_cast_check(8, 0.83)
    assert not c.constraint_holds and not c.clips


def test_counterexample_on_the_emulated_kernel():
    _, clipped, exact = oc.fp8_counterexample(rescale_threshold=4.0)
    assert clipped[0, 128] < 0.12 * exact[0, 128]  # the dominant key keeps 448 / 2^11.96 of its weight
    assert clipped.sum() < 0.96
    _, fine, _ = oc.fp8_counterexample(rescale_threshold=0.0)  # the max moves: P ≤ 2^8, nothing clips
    assert abs(fine[0, 128] / exact[0, 128] - 1) < 2.0 ** -4  # within e4m3's rounding


def test_finite_minus_inf_stand_in_returns_zero_rows():
    c = oc.stand_in_zero_rows(-5e4, "float32")
    assert c.zero_from_score == -50103.97265625 and not c.with_minus_inf_zero
    cfg = OnlineSoftmax("stand-in", lanes=1, p_dtype=None, max_start=-5e4)
    at, above = c.zero_from_score, float(np.nextafter(np.float32(c.zero_from_score), np.float32(0)))
    assert not attention_weights(np.full((1, 4), at), "float32", cfg).any()
    assert attention_weights(np.full((1, 4), above), "float32", cfg).all()
    assert oc.stand_in_zero_rows(-5e4, "bfloat16").zero_from_score == -50176.0


def test_the_online_command_prints_thresholds_and_checks(capsys):
    import json

    from softmax_sat import main
    assert main(["online", "--config", "flash-attn-4", "--dtype", "float16", "--seq-len", "1024",
                 "--stand-in=-5e4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["p_cast"]["clips"] and not out["p_cast"]["constraint_holds"]
    assert out["stand_in"]["zero_from_score"] == -50112.0
    assert out["thresholds"]["seq_len"] == 1024 and len(out["thresholds"]["top_not_one_after_first"]) <= 20
    assert main(["online", "--seq-len", "1"]) == 2
    assert "--seq-len: must be at least 2" in capsys.readouterr().err
