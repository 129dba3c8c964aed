"""Bad logits sources, each one line naming the file (issue 24's battery): safetensors headers checked whole, a
shard rewritten between the scan and the read, dangling links and link loops among shards, a recursive glob through
a folder that links to itself, an empty source name, a null first Parquet list."""
import json
import os
import struct
import time

import numpy as np
import pytest

from precision.logits.files import LogitsFile, LogitsFileError
from precision.logits.shards import ShardError, find_shards
from softmax_sat import main

X = np.arange(12, dtype=np.float32).reshape(3, 4)


def _safetensors(path, header, data: bytes = X.tobytes()):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


GOOD = {"logits": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 48]}}


@pytest.mark.parametrize("header, message", [
    ([1, 2], "header is a JSON list"),
    ({"logits": [1]}, "'logits' is a list, not an object"),
    ({"logits": {"dtype": "F32", "shape": [3, 4]}}, r"data_offsets None"),
    ({"logits": {"dtype": "F32", "shape": [3, 4], "data_offsets": [-8, 40]}}, r"data_offsets \[-8, 40\]"),
    ({"logits": {"dtype": "F32", "shape": [3, 4], "data_offsets": [0, 40]}}, "40 bytes for shape"),
    ({"logits": {"dtype": "F32", "shape": [3, "4"], "data_offsets": [0, 48]}}, "non-negative integers"),
    ({"logits": {"dtype": "F32", "shape": [2, 4], "data_offsets": [16, 48]}}, "starts at byte 16"),
    ({"logits": {"dtype": "F32", "shape": [2, 4], "data_offsets": [0, 32]}}, "cover 32 bytes of data"),
    ({"logits": {"dtype": "X9", "shape": [3, 4], "data_offsets": [0, 48]}}, "dtype 'X9'"),
])
def test_a_safetensors_header_is_checked_whole(tmp_path, header, message):
    f = _safetensors(tmp_path / "x.safetensors", header)
    with pytest.raises(ShardError, match=message) as e:
        find_shards(f)
    assert str(f) in str(e.value) and "\n" not in str(e.value)


def test_a_good_safetensors_file_still_reads(tmp_path):
    (shard,) = find_shards(_safetensors(tmp_path / "x.safetensors", GOOD))
    np.testing.assert_array_equal(next(shard.blocks())[1], X)


def _touch_later(path):
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10 ** 9))


@pytest.mark.parametrize("rewrite", [lambda f: np.save(f, X.astype(np.float64)),  # another dtype
                                     lambda f: np.save(f, np.vstack([X, X])),  # more rows
                                     lambda f: (np.save(f, X[::-1].copy()), _touch_later(f))])  # same header
def test_a_shard_rewritten_between_the_scan_and_the_read_is_refused(tmp_path, rewrite):
    f = tmp_path / "a.npy"
    np.save(f, X)
    (shard,) = find_shards(f)
    rewrite(f)
    with pytest.raises(ShardError, match="changed since it was found"):
        list(shard.blocks())


def test_a_single_npy_file_rewritten_while_it_is_read_is_refused(tmp_path):
    f = tmp_path / "a.npy"
    np.save(f, X)
    logits = LogitsFile(f)
    np.save(f, X[::-1].copy())
    _touch_later(f)
    with pytest.raises(LogitsFileError, match="changed while it was read"):
        list(logits.chunks(2))


def test_dangling_links_and_link_loops_among_shards_are_refused_by_name(tmp_path):
    np.save(tmp_path / "a.npy", X)
    (tmp_path / "b.npy").symlink_to(tmp_path / "gone.npy")
    with pytest.raises(ShardError, match=r"b\.npy is a link that leads to no file"):
        find_shards(tmp_path)
    (tmp_path / "b.npy").unlink()
    (tmp_path / "c.npy").symlink_to(tmp_path / "c.npy")  # a loop
    with pytest.raises(ShardError, match=r"c\.npy is a link that leads to no file"):
        find_shards(str(tmp_path / "*.npy"))
    with pytest.raises(ShardError, match=r"c\.npy"):
        find_shards(tmp_path / "c.npy")


def test_a_recursive_glob_through_a_folder_that_links_to_itself_ends(tmp_path):
    (tmp_path / "d" / "e").mkdir(parents=True)
    np.save(tmp_path / "d" / "a.npy", X)
    np.save(tmp_path / "d" / "e" / "b.npy", X)
    (tmp_path / "d" / "loop").symlink_to(tmp_path / "d")
    (tmp_path / "d" / "e" / "up").symlink_to(tmp_path / "d")
    start = time.monotonic()
    shards = find_shards(str(tmp_path / "d" / "**" / "*.npy"))
    assert time.monotonic() - start < 10
    assert sorted(os.path.relpath(s.path, tmp_path) for s in shards) == ["d/a.npy", "d/e/b.npy"]


def test_an_empty_logits_name_is_refused_not_read_as_the_current_folder(tmp_path, capsys):
    with pytest.raises(ShardError, match="an empty name"):
        find_shards("")
    assert main(["logits", "", "--out", str(tmp_path / "r")]) == 2
    assert "SOURCE: an empty name" in capsys.readouterr().err


def test_a_null_first_parquet_list_is_named(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    f = tmp_path / "x.parquet"
    pq.write_table(pa.table({"logits": pa.array([None, [1.0, 2.0], [3.0, 4.0]], type=pa.list_(pa.float32()))}), f)
    with pytest.raises(ShardError, match="row 0: the 'logits' list is null"):
        find_shards(f)


def test_a_dump_folder_that_is_also_out_does_not_read_its_own_token_files(tmp_path, capsys):
    np.save(tmp_path / "a.npy", X)
    args = ["logits", str(tmp_path), "--kernel", "numpy", "--dtypes", "float16", "--out", str(tmp_path),
            "--no-figures"]
    assert main(args) == 0
    first = (tmp_path / "logits.json").read_bytes()
    assert main(args) == 0, capsys.readouterr().err  # the second run reads a.npy only, as the first did
    assert json.loads((tmp_path / "logits.json").read_text())["shape"] == [3, 4]
    assert (tmp_path / "logits.json").read_bytes() == first
