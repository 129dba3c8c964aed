"""`--scheduler`: an address that is not tcp://HOST:PORT is refused in one line before anything is claimed, and a
scheduler nothing listens at is refused at once (not after Dask's 30 s), the folder left as it was."""
import socket
import time

import numpy as np
import pytest

from precision.common.errors import InputError
from precision.logits.dask_scan import check_scheduler
from softmax_sat import main


@pytest.mark.parametrize("bad", ["tcp://", "file:///etc/passwd", "tcp://host", "tcp://host:notaport", "http://h:1",
                                 "tcp://h:1/x"])
def test_a_scheduler_that_is_not_an_address_is_refused(bad):
    with pytest.raises(InputError, match="expected dask .* tcp://HOST:PORT"):
        check_scheduler(bad)


def test_good_schedulers_pass():
    assert [check_scheduler(s) for s in (None, "dask", "tcp://127.0.0.1:8786", "tls://h.example:1")] == \
        [None, "dask", "tcp://127.0.0.1:8786", "tls://h.example:1"]


def test_a_scheduler_nothing_listens_at_is_refused_at_once_and_the_folder_is_left_as_it_was(tmp_path, capsys):
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    np.save(tmp_path / "a.npy", np.array([[3.0, 0.0], [9.0, 1.0]], dtype=np.float32))
    out = tmp_path / "r"
    start = time.monotonic()
    assert main(["logits", str(tmp_path / "a.npy"), "--scheduler", f"tcp://127.0.0.1:{port}",
                 "--kernel", "numpy", "--out", str(out)]) == 2
    assert time.monotonic() - start < 20
    err = capsys.readouterr().err
    assert "--scheduler: cannot reach the Dask scheduler" in err.strip().splitlines()[-1]
    assert not out.exists()  # no claim, lock or staging folder left
    assert main(["logits", str(tmp_path / "a.npy"), "--scheduler", "tcp://", "--out", str(out)]) == 2
    assert "--scheduler: expected dask" in capsys.readouterr().err and not out.exists()
