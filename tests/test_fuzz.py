"""Hostile and broken files: the IDX, CIFAR and npz readers, fed random, truncated and bit-flipped bytes,
only ever raise a one-line DatasetError: never another exception, a hang or a huge allocation."""
import gzip
import io
import os
import pickle
import tarfile
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bakeoff.data import idx
from bakeoff.data.arrays import load_arrays
from bakeoff.data.cifar import load_cifar10
from bakeoff.errors import DatasetError
from data_fixtures import cifar_batch_blobs, idx_bytes, tiny_images

# CI replays the same 150 examples every run (derandomize), so a red CI means a change broke something;
# BAKEOFF_FUZZ_EXAMPLES=5000 hunts with fresh random examples for longer than CI affords.
HUNT = int(os.environ.get("BAKEOFF_FUZZ_EXAMPLES", 0))
FUZZ = settings(max_examples=HUNT or 150, derandomize=not HUNT, deadline=5000,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
MAX_ALLOC = 64 << 20  # bytes: a few-KB file must never make the reader allocate more than this


def _valid_idx() -> bytes:
    x, _ = tiny_images(6, size=5)
    return idx_bytes(x)


def _valid_npz() -> bytes:
    x, y = tiny_images(8, size=4, channels=3)
    buf = io.BytesIO()
    np.savez(buf, x_train=x, y_train=y, x_test=x[:4], y_test=y[:4])
    return buf.getvalue()


def _valid_cifar_tar() -> bytes:
    x, y = tiny_images(5, size=32, channels=3)  # one image per training batch
    blobs = cifar_batch_blobs(x, y, x[:2], y[:2])
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, blob in blobs.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buf.getvalue()


def mutations(valid: bytes):
    """Random bytes, the valid file cut short, or the valid file with bits flipped."""
    flips = st.lists(st.tuples(st.integers(0, len(valid) - 1), st.integers(0, 7)), min_size=1, max_size=8)
    return st.one_of(
        st.binary(max_size=4096),
        st.integers(0, len(valid) - 1).map(lambda n: valid[:n]),
        flips.map(lambda fs: _flip(valid, fs)),
    )


def _flip(data: bytes, flips) -> bytes:
    out = bytearray(data)
    for pos, bit in flips:
        out[pos] ^= 1 << bit
    return bytes(out)


def only_clean_errors(read, path):
    """Run a reader: it may succeed or raise DatasetError with one line, within bounded memory."""
    tracemalloc.start()
    try:
        read(path)
    except DatasetError as e:
        assert "\n" not in str(e) and path.name in str(e), str(e)
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MAX_ALLOC, f"reader allocated {peak} bytes for a {path.stat().st_size}-byte file"


@FUZZ
@given(data=mutations(_valid_idx()), zipped=st.booleans())
def test_idx_reader(tmp_path, data, zipped):
    path = tmp_path / ("f.idx3-ubyte.gz" if zipped else "f.idx3-ubyte")
    path.write_bytes(gzip.compress(data) if zipped else data)
    only_clean_errors(lambda p: idx.read_idx(p, idx.IMAGES_MAGIC), path)


@FUZZ
@given(data=mutations(_valid_npz()))
def test_npz_reader(tmp_path, data):
    path = tmp_path / "f.npz"
    path.write_bytes(data)
    only_clean_errors(load_arrays, path)


@FUZZ
@given(data=mutations(_valid_cifar_tar()))
def test_cifar_tar_reader(tmp_path, data):
    path = tmp_path / "cifar-10-python.tar.gz"
    path.write_bytes(data)
    only_clean_errors(load_cifar10, path)


def test_idx_header_claiming_more_than_the_file_is_refused_before_allocating(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x08\x03" + (60000).to_bytes(4, "big") + (4096).to_bytes(4, "big") * 2 + b"\x00" * 64)
    tracemalloc.start()
    with pytest.raises(DatasetError) as e:
        idx.read_idx(path, idx.IMAGES_MAGIC)
    assert "60000x4096x4096" in str(e.value)  # the claim it refused
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20  # refused from the header alone: the claimed 1 TB was never asked for


def test_a_gzip_bomb_header_is_refused_without_inflating_it(tmp_path):
    # 1 GB of zeros gzips to about 1 MB: the header claims it, the reader must stop at the claim.
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    header = b"\x00\x00\x08\x03" + (1000).to_bytes(4, "big") + (1000).to_bytes(4, "big") * 2
    with gzip.open(path, "wb") as f:
        f.write(header)
        f.write(b"\x00" * (8 << 20))  # the file holds 8 MB of the claimed 1 GB
    tracemalloc.start()
    with pytest.raises(DatasetError):
        idx.read_idx(path, idx.IMAGES_MAGIC)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 << 20


def test_npz_with_pickled_objects_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, x_train=np.array([object()], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1),
             y_test=np.zeros(1))
    with pytest.raises(DatasetError):
        load_arrays(path)


def test_cifar_batch_with_code_payload_is_refused(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch",
                 "batches.meta"]:
        (folder / name).write_bytes(pickle.dumps({b"data": Payload()}, protocol=2))
    with pytest.raises(DatasetError) as e:
        load_cifar10(folder)
    assert "print" in str(e.value) and "pwned" not in capsys.readouterr().out  # named, and never called


def _cifar_folder_of(tmp_path, blob: bytes):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        (folder / name).write_bytes(blob)
    return folder


# Each of these few-byte pickles would make an unguarded unpickler allocate gigabytes:
# a memo slot number far beyond the file (the C unpickler grows its memo table to it; found by CI's fuzzing),
# bytes(n) with a size, and numpy's _reconstruct with a huge shape.
HUGE_ALLOCATIONS = {
    "memo slot": b"\x80\x02}r\x0b\x80q\x0c.",
    "bytes(size)": b"\x80\x02c__builtin__\nbytes\nJ\x00\x00\x00\xc0\x85R.",
    "reconstruct shape": b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\x00\x00\x40\x85U\x01b\x87R.",
}


@pytest.mark.parametrize("name", HUGE_ALLOCATIONS)
def test_cifar_pickle_asking_for_gigabytes_is_refused_before_allocating(tmp_path, name):
    folder = _cifar_folder_of(tmp_path, HUGE_ALLOCATIONS[name])
    tracemalloc.start()
    with pytest.raises(DatasetError) as e:
        load_cifar10(folder)
    assert "data_batch_1" in str(e.value)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20
