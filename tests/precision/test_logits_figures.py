"""`logits_past_threshold.png`: one figure, on fixed bins, so that one far row is counted in the open bin above
rather than squeezing every other row into one bin."""
import numpy as np

from precision.kernels.registry import get_kernel
from precision.logits.dumps import analyse_sources
from precision.logits.figures import past_threshold_bars, past_threshold_figure
from precision.logits.rows import saturation_of
from precision.logits.summary import PAST_WIDTH, DtypeStatistics, past_histogram

DTYPES = ("float16", "float32")


def _logits_with_a_far_row(rows: int = 300, classes: int = 50) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(0, 6, (rows, classes)).astype(np.float32)
    x[np.arange(rows), rng.integers(0, classes, rows)] += rng.uniform(0, 40, rows).astype(np.float32)
    x[7, 0] = 10_000.0  # one row about 10,000 past its threshold
    return x


def test_one_far_row_is_counted_above_and_the_others_keep_their_bins():
    rng = np.random.default_rng(1)
    past = np.append(rng.uniform(-10, 20, 299), 10_000.0)
    bars = past_threshold_bars({"float32": past_histogram(past)})
    # the bins span the bulk (and 0), not the far row: before, 60 bins from −10 to 10,000 held the bulk in one
    assert -10.25 <= bars.edges[0] <= -10 and 20 <= bars.edges[-1] <= 20.25
    np.testing.assert_array_equal(np.diff(bars.edges), PAST_WIDTH)
    counts = bars.counts["float32"]
    assert len(counts) == len(bars.edges) - 1 and (counts > 0).sum() > 100
    assert (bars.below["float32"], bars.above["float32"], int(counts.sum())) == (0, 1, 299)
    assert bars.label("float32") == "float32 (0 below -32, 1 from 96 on)"


def test_zero_stays_in_view_and_no_rows_draw_one_empty_bin():
    bars = past_threshold_bars({"float16": past_histogram(np.array([5.1, 5.2, -40.0]))})
    assert bars.edges[0] == 0 and bars.edges[-1] == 5.25 and bars.below["float16"] == 1
    empty = past_threshold_bars({"float16": past_histogram(np.array([]))})
    assert empty.edges.tolist() == [0, PAST_WIDTH] and empty.counts["float16"].tolist() == [0]


def test_the_rows_and_the_dumps_statistics_draw_the_same_bars(tmp_path):
    np.save(tmp_path / "l.npy", _logits_with_a_far_row())
    kernel = get_kernel("numpy")
    rows = saturation_of(_logits_with_a_far_row(), DTYPES, kernel, exact_distance=True)  # the per-row engine
    single = {d: past_histogram(r.past_threshold[np.isfinite(r.past_threshold)]) for d, r in rows.items()}
    data = analyse_sources(tmp_path / "l.npy", tmp_path / "dump", DTYPES, kernel, figures=False, progress=False)
    dump = {s["dtype"]: DtypeStatistics.from_dict(s).past_histogram for s in data["summary"]}
    a, b = past_threshold_bars(single), past_threshold_bars(dump)
    np.testing.assert_array_equal(a.edges, b.edges)
    for d in DTYPES:
        np.testing.assert_array_equal(a.counts[d], b.counts[d])
        assert a.above[d] == b.above[d] == 1 and a.counts[d].sum() == 299
    assert a.edges[-1] - a.edges[0] < 64  # the bulk, not the far row, sets the range
    png = past_threshold_figure(single, tmp_path / "past.png", "numpy")
    assert png.stat().st_size > 10_000
