"""Logits dumps at scale: .npy / .safetensors / Parquet shards found by file, glob or folder, read in blocks, per-token
records equal to the per-row engine's, statistics that merge exactly, and a Dask cluster giving the same files byte
for byte as one process."""
import filecmp
import json
import sys

import ml_dtypes
import numpy as np
import pytest

from precision.common.errors import InputError
from precision.logits.dumps import analyse_sources
from precision.logits.rows import saturation_of
from precision.logits.shard_scan import FLAG_BITS, scan_shard
from precision.logits.shards import ShardError, find_shards
from precision.logits.summary import NO_ULPS, ULP_POWERS, DtypeStatistics, merge, ulp_bins

DTYPES = ("bfloat16", "float32")


def _logits(rows=24, classes=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 2, (rows, classes))
    x[np.arange(rows), rng.integers(0, classes, rows)] += rng.uniform(0, 40, rows)
    return x.astype(np.float32)


def _records(out, n):
    return np.concatenate([np.load(out / f"logits.tokens-{i:05d}.npy") for i in range(n)])


def _agrees_with_engine(records, x, kernel, dtypes=DTYPES):
    ref = saturation_of(np.asarray(x, dtype=np.float64), dtypes, kernel, exact_distance=True)
    for d, r in ref.items():
        np.testing.assert_array_equal(records[f"{d}.past_threshold"], r.past_threshold)
        assert ((records[f"{d}.flags"] & FLAG_BITS["top_is_one"]) > 0).tolist() == r.top_is_one.tolist()
        assert ((records[f"{d}.flags"] & FLAG_BITS["nan"]) > 0).tolist() == r.nan.tolist()
        assert ((records[f"{d}.flags"] & FLAG_BITS["overflow"]) > 0).tolist() == r.overflow.tolist()


def test_every_format_reads_the_same_rows_as_the_engine(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    safetensors = pytest.importorskip("safetensors.numpy")
    x = _logits(40)
    np.save(tmp_path / "a.npy", x[:10].reshape(2, 5, 64))  # (batch, sequence, classes): tokens are rows
    safetensors.save_file({"logits": x[10:20], "labels": np.zeros(10, dtype=np.int64)}, tmp_path / "b.safetensors")
    pq.write_table(pa.table({"token": np.arange(10), "logits": [list(r) for r in x[20:30]]}),
                   tmp_path / "c.parquet", row_group_size=4)
    pq.write_table(pa.table({f"class{i}": x[30:40, i] for i in range(64)}), tmp_path / "d.parquet")
    shards = find_shards(tmp_path)
    assert [(s.kind, s.rows, s.classes) for s in shards] == [("npy", 10, 64), ("safetensors", 10, 64),
                                                            ("parquet", 10, 64), ("parquet", 10, 64)]
    data = analyse_sources(tmp_path, tmp_path / "out", DTYPES, "torch-log", figures=False, progress=False)
    assert data["shape"] == [40, 64] and [s["first_token"] for s in data["sources"]] == [0, 10, 20, 30]
    _agrees_with_engine(_records(tmp_path / "out", 4), x, "torch-log")


def test_bfloat16_npy_and_safetensors_are_read_as_bfloat16(tmp_path):
    torch = pytest.importorskip("torch")
    st = pytest.importorskip("safetensors.torch")
    x = _logits(12).astype(ml_dtypes.bfloat16)
    np.save(tmp_path / "a.npy", x)  # NumPy writes ml_dtypes.bfloat16 as <V2
    st.save_file({"logits": torch.from_numpy(x.view(np.int16)).view(torch.bfloat16)}, tmp_path / "b.safetensors")
    a, b = find_shards([tmp_path / "a.npy", tmp_path / "b.safetensors"])
    assert a.dtype == b.dtype == "bfloat16"
    assert np.array_equal(a.read(0, 12).view(np.uint16), x.view(np.uint16))
    assert np.array_equal(b.read(3, 4).view(np.uint16), x[3:7].view(np.uint16))
    stats, records = scan_shard(b, ("bfloat16",), "torch-log")
    _agrees_with_engine(records, x.astype(np.float64), "torch-log", ("bfloat16",))


def test_blocks_are_invisible_and_statistics_merge_exactly(tmp_path):
    x = _logits(50)
    x[3, 1], x[7, 2] = np.nan, np.inf  # flagged (nan, overflow), never refused
    np.save(tmp_path / "l.npy", x)
    shard = find_shards(tmp_path / "l.npy")[0]
    whole, r1 = scan_shard(shard, DTYPES, "numpy")
    parts, r2 = scan_shard(shard, DTYPES, "numpy", rows=7)
    assert r1.tobytes() == r2.tobytes()
    for d in DTYPES:
        assert json.dumps(whole[d].as_dict()) == json.dumps(parts[d].as_dict())
        assert whole[d].nan == 1 and whole[d].overflow == 1 and whole[d].rows == 50
    # merging is addition: any split, any order
    pieces = [scan_shard(shard, DTYPES, "numpy", rows=k)[0] for k in (3, 11)]
    assert json.dumps(merge(pieces[::-1])["float32"].as_dict()) == json.dumps(
        merge([whole, whole])["float32"].as_dict())
    again = DtypeStatistics.from_dict(whole["bfloat16"].as_dict())
    assert json.dumps(again.as_dict()) == json.dumps(whole["bfloat16"].as_dict())


def test_past_ulps_bins_are_exact_powers_of_two():
    u = np.array([0, 1, 2, 3, 4, -1, -3, 2**53 + 1, 2**62 - 1, 2**62, 2**63 - 1, (1 << 54) - 1])
    assert (ulp_bins(u) - ULP_POWERS).tolist() == [0, 1, 2, 2, 3, -1, -2, 54, 62, 63, 63, 54]


def test_past_ulps_counts_the_dtypes_values_between_gap_and_threshold(tmp_path):
    np.save(tmp_path / "l.npy", np.array([[30.0, 0.0], [3.0, 0.0], [7.625, 0.0]]))
    _, records = scan_shard(find_shards(tmp_path / "l.npy")[0], ("float16",), "numpy")
    # numpy in float16 saturates two classes from a gap of 7.625 (the doctest of precision.logits.rows)
    assert records["float16.past_ulps"].tolist() == [_ulps(30.0, 7.625), _ulps(3.0, 7.625), 0]
    assert _ulps(30.0, 7.625) == 96 + 1024 + 896  # 7.625 → 8 in steps of 2^-8, 8 → 16 of 2^-7, 16 → 30 of 2^-6
    assert records["float16.flags"][0] & FLAG_BITS["top_is_one"]


def _ulps(gap, threshold):
    f = lambda v: int(np.array(v, dtype=np.float16).view(np.uint16))
    return f(gap) - f(threshold)


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p / "a.npy", np.zeros((3, 4))) or np.save(p / "b.npy", np.zeros((3, 5))),
     "disagree on the number of classes"),
    (lambda p: (p / "x.txt").write_text("1"), "holds no .npy"),
    (lambda p: np.save(p / "a.npy", np.array(["a", "b"])), "expected real numbers"),
    (lambda p: np.save(p / "a.npy", np.zeros(5)), "tokens × classes"),
])
def test_bad_sources_are_named(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(ShardError, match=message):
        find_shards(tmp_path)


def test_a_glob_matching_nothing_and_ambiguous_files(tmp_path):
    with pytest.raises(ShardError, match="matches no"):
        find_shards(str(tmp_path / "*.npy"))
    st = pytest.importorskip("safetensors.numpy")
    st.save_file({"a": np.zeros((2, 3), np.float32), "b": np.zeros((2, 3), np.float32)}, tmp_path / "t.safetensors")
    with pytest.raises(ShardError, match="name the logits tensor 'logits'"):
        find_shards(tmp_path / "t.safetensors")
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"id": ["a", "b"], "x": [1.0, 2.0]}), tmp_path / "t.parquet")
    with pytest.raises(ShardError, match="column 'id' is string"):
        find_shards(tmp_path / "t.parquet")


def test_missing_optional_packages_name_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    np.save(tmp_path / "l.npy", _logits(2))
    with pytest.raises(InputError, match=r"softmax-saturation\[scale\]"):
        analyse_sources(tmp_path / "l.npy", tmp_path / "o", ("float32",), "numpy", figures=False, progress=False,
                        scheduler="dask")
    (tmp_path / "l.parquet").write_bytes(b"PAR1")
    with pytest.raises(ShardError, match=r"pyarrow package: pip install 'softmax-saturation\[scale\]'"):
        find_shards(tmp_path / "l.parquet")
    with pytest.raises(InputError, match="tcp://HOST:PORT"):
        analyse_sources(tmp_path / "l.npy", tmp_path / "o", ("float32",), "numpy", scheduler="yes")


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    c = distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", processes=True,
                                 dashboard_address="127.0.0.1:0", silence_logs=40)
    try:
        yield c
    finally:
        c.close()


def test_dask_cluster_writes_the_same_files_as_one_process(tmp_path, cluster):
    x = _logits(8 * 9, 300, seed=2)
    x[5, 3] = np.nan
    for i in range(8):  # 8 shards of 9 tokens
        np.save(tmp_path / f"part-{i}.npy", x[9 * i:9 * (i + 1)])
    one = analyse_sources(str(tmp_path / "part-*.npy"), tmp_path / "one", DTYPES, "torch-log", progress=False)
    spread = analyse_sources(str(tmp_path / "part-*.npy"), tmp_path / "dask", DTYPES, "torch-log", progress=False,
                             scheduler=cluster.scheduler_address)
    assert spread["scheduler"].startswith("tcp://127.0.0.1:")
    one.pop("scheduler"), spread.pop("scheduler")
    assert one == spread
    for name in ["logits.md", "logits_past_threshold.png"] + [f"logits.tokens-{i:05d}.npy" for i in range(8)]:
        assert filecmp.cmp(tmp_path / "one" / name, tmp_path / "dask" / name, shallow=False), name
    _agrees_with_engine(_records(tmp_path / "dask", 8), x, "torch-log")
    assert one["summary"][0]["nan"] == 1 and one["summary"][0]["rows"] == 72
    assert (np.load(tmp_path / "dask" / "logits.tokens-00000.npy")["float32.past_ulps"][5] == NO_ULPS)


def test_a_csv_file_and_the_choice_between_row_lists_and_a_dump(tmp_path):
    from precision.logits.dumps import sources_config
    (tmp_path / "l.csv").write_text("a,b,c\n30,0,1\n3,0,1\n")
    data = analyse_sources([tmp_path / "l.csv"], tmp_path / "o", ("float16",), "numpy", progress=False)
    assert data["summary"][0]["saturated"] == 1 and data["sources"][0]["format"] == "csv"
    assert sources_config(find_shards(tmp_path / "l.csv"))["bytes"] == [(tmp_path / "l.csv").stat().st_size]


def test_a_csv_shard_changed_after_it_was_found_is_refused(tmp_path):
    for i in range(2):
        (tmp_path / f"part-{i}.csv").write_text("30,0,1\n3,0,1\n")
    shards = find_shards(str(tmp_path / "part-*.csv"))
    (tmp_path / "part-1.csv").write_text("30,0,1\n3,0,1\n5,0,1\n")  # a third row since
    assert scan_shard(shards[0], ("float32",), "numpy")[0]["float32"].rows == 2
    with pytest.raises(ShardError, match=r"changed since it was found"):
        scan_shard(shards[1], ("float32",), "numpy")


def test_a_users_kernel_from_the_current_folder_runs_on_the_workers(tmp_path, cluster, monkeypatch):
    """The workers cannot import a module of the current folder: the kernel travels with its module's code, and
    the cluster's files equal one process's (before, the workers failed to unpickle it and the run waited for
    ever)."""
    from precision.kernels.registry import get_kernel
    (tmp_path / "my_folder_softmax.py").write_text(
        "import numpy as np\n\ndef softmax(x):\n    e = np.exp(x - x.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)\n")
    monkeypatch.chdir(tmp_path)
    kernel = get_kernel("my_folder_softmax:softmax")
    x = _logits(2 * 5, 40, seed=3)
    for i in range(2):
        np.save(tmp_path / f"part-{i}.npy", x[5 * i:5 * (i + 1)])
    one = analyse_sources(str(tmp_path / "part-*.npy"), tmp_path / "one", ("float32",), kernel, progress=False)
    spread = analyse_sources(str(tmp_path / "part-*.npy"), tmp_path / "dask", ("float32",), kernel, progress=False,
                             scheduler=cluster.scheduler_address)
    one.pop("scheduler"), spread.pop("scheduler")
    assert one == spread
    import cloudpickle
    assert "my_folder_softmax" not in cloudpickle.list_registry_pickle_by_value()  # the registry put back


def test_a_kernel_the_workers_cannot_rebuild_is_refused_in_one_line(tmp_path, cluster, monkeypatch):
    from precision.kernels.registry import KernelError, get_kernel
    from precision.logits import dask_scan
    np.save(tmp_path / "part-0.npy", _logits(3, 10))
    kernel = get_kernel("numpy")
    monkeypatch.setattr(dask_scan, "_shipped", lambda k: b"not a pickle")  # what a worker cannot load
    monkeypatch.setattr(dask_scan, "REBUILD_S", 10)
    with pytest.raises(KernelError, match="the Dask workers cannot rebuild this kernel"):
        analyse_sources(str(tmp_path / "part-*.npy"), tmp_path / "o", ("float32",), kernel, progress=False,
                        scheduler=cluster.scheduler_address)


def test_a_shipped_kernel_is_unpickled_once_per_worker_process():
    import cloudpickle

    from precision.kernels.registry import get_kernel
    from precision.logits import dask_scan
    spec = cloudpickle.dumps(get_kernel("numpy"))
    first = dask_scan._rebuilt(spec)
    assert dask_scan._rebuilt(spec) is first and first.name == "numpy"
