"""Unpickling numpy arrays from files we did not write (the CIFAR-10 batches) without trusting them.

A pickle is a program: `pickle.load` would call whatever it names. This reader allows only plain containers
and numpy's array recipe, and even that recipe never reaches numpy's C code: `_reconstruct`, `dtype` and
`scalar` build placeholders that record their arguments and state, and the arrays are assembled afterwards
with `np.frombuffer` once shape, dtype and byte count agree. Fuzzing found that a flipped bit handed to
numpy's own `__setstate__` can crash the interpreter, and that damaged length or memo fields make the
C unpickler allocate gigabytes; both are refused before anything is built.
"""
from __future__ import annotations

import codecs
import io
import math
import pickle
import pickletools

import numpy as np

MEMO_OPS = {"PUT", "BINPUT", "LONG_BINPUT"}
NUMERIC_KINDS = "biuf"  # bool, signed, unsigned, float: the only element types a dataset needs


class UnsafePickle(ValueError):
    """The bytes are not a pickle of plain containers and numeric arrays."""


class _ArrayClass:
    """Stands for numpy.ndarray: `_reconstruct`'s first argument; never called."""


class _Dtype:
    """np.dtype('u1', False, True) as pickled: the type string, and the byte order from its state."""

    def __init__(self, spec, align=False, copy=False):
        self.spec, self.state = spec, None

    def __setstate__(self, state):
        self.state = state

    def resolve(self) -> np.dtype:
        spec = self.spec.decode("ascii", "replace") if isinstance(self.spec, bytes) else self.spec
        if not isinstance(spec, str) or len(spec) > 4:
            raise UnsafePickle(f"dtype {self.spec!r} is not a numeric type")
        order = self.state[1] if isinstance(self.state, tuple) and len(self.state) > 1 else "|"
        order = order.decode("ascii", "replace") if isinstance(order, bytes) else order
        if order not in ("<", ">", "|", "="):
            raise UnsafePickle(f"dtype byte order {order!r}")
        try:
            dtype = np.dtype(spec)
        except TypeError:
            raise UnsafePickle(f"dtype {spec!r} is not a numeric type") from None
        if dtype.kind not in NUMERIC_KINDS:
            raise UnsafePickle(f"dtype {spec!r} is not a numeric type")
        return dtype.newbyteorder(order) if dtype.itemsize > 1 and order in "<>" else dtype


class _Array:
    """_reconstruct(ndarray, (0,), b'b') followed by BUILD with (version, shape, dtype, fortran, raw bytes)."""

    def __init__(self, subtype, shape, typecode):
        if subtype is not _ArrayClass:
            raise UnsafePickle("_reconstruct of something other than numpy.ndarray")
        self.state = None

    def __setstate__(self, state):
        self.state = state

    def resolve(self) -> np.ndarray:
        s = self.state
        if not (isinstance(s, tuple) and len(s) == 5 and isinstance(s[1], tuple) and isinstance(s[2], _Dtype)
                and isinstance(s[4], (bytes, bytearray))):
            raise UnsafePickle("array state is not (version, shape, dtype, fortran, bytes)")
        _, shape, dtype, fortran, raw = s
        if not all(isinstance(n, int) and 0 <= n for n in shape):
            raise UnsafePickle(f"array shape {shape!r}")
        dtype = dtype.resolve()
        if math.prod(shape) * dtype.itemsize != len(raw):
            raise UnsafePickle(f"array of shape {shape} {dtype} needs {math.prod(shape) * dtype.itemsize} bytes, "
                               f"the file holds {len(raw)}")
        flat = np.frombuffer(raw, dtype=dtype)  # a read-only view of the file's bytes; the copy below owns its data
        return flat.reshape(shape[::-1]).T.copy() if fortran else flat.reshape(shape).copy()


def _scalar(dtype, raw):
    if not isinstance(dtype, _Dtype) or not isinstance(raw, bytes):
        raise UnsafePickle("numpy scalar is not (dtype, bytes)")
    dt = dtype.resolve()
    if len(raw) != dt.itemsize:
        raise UnsafePickle(f"numpy scalar of {dt} needs {dt.itemsize} bytes, got {len(raw)}")
    return np.frombuffer(raw, dtype=dt)[0]


def _no_size_call(kind):
    """`bytes`/`bytearray` as a pickle may call them, except with a size: bytes(3_000_000_000) allocates."""
    def build(*args):
        if args and isinstance(args[0], int):
            raise UnsafePickle(f"{kind.__name__}({args[0]})")
        return kind(*args)
    return build


_builtins = {"list": list, "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset,
             "bytes": _no_size_call(bytes), "bytearray": _no_size_call(bytearray)}
# What Python 2's and Python 3's numpy write at protocol 2; anything else (os.system, eval, ...) is refused.
_ALLOWED = {
    **{("builtins", k): v for k, v in _builtins.items()},
    **{("__builtin__", k): v for k, v in _builtins.items()},
    ("numpy", "ndarray"): _ArrayClass,
    ("numpy", "dtype"): _Dtype,
    **{(m, "_reconstruct"): _Array for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(m, "scalar"): _scalar for m in ("numpy.core.multiarray", "numpy._core.multiarray")},
    ("_codecs", "encode"): codecs.encode,  # how Python 3 pickles bytes at protocol 2
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickle(f"refused to load {module}.{name}") from None


def check_opcodes(blob: bytes) -> None:
    """A dry pass over the opcodes, which reads only what is there.

    A damaged length field (a flipped bit in BINBYTES) would make the real unpickler allocate what the field
    claims, up to 4 GB. Memo slots are numbered in order; a damaged LONG_BINPUT 208755979 would make the
    C unpickler grow its memo table to that many entries (3 GB), so a slot beyond the opcodes seen is refused.
    """
    for count, (op, arg, _) in enumerate(pickletools.genops(blob)):
        if op.name in MEMO_OPS and arg > count:
            raise UnsafePickle(f"memo slot {arg} at opcode {count}")


def _resolve(obj, seen: dict, depth: int = 0):
    """Placeholders replaced by real arrays, dtypes and scalars, through lists, tuples and dicts.

    `seen` resolves each object once: a list holding itself twice per level would otherwise take 2**depth steps.
    """
    if depth > 50:
        raise UnsafePickle("nested too deeply")
    if not isinstance(obj, (_Array, _Dtype, dict, list, tuple)):
        return obj
    if id(obj) in seen:
        return seen[id(obj)]
    if isinstance(obj, (_Array, _Dtype)):
        out = obj.resolve()
    elif isinstance(obj, dict):
        out = {_resolve(k, seen, depth + 1): _resolve(v, seen, depth + 1) for k, v in obj.items()}
    else:
        out = type(obj)(_resolve(v, seen, depth + 1) for v in obj)
    seen[id(obj)] = out
    return out


def safe_loads(blob: bytes):
    """The unpickled object; raises UnsafePickle, or another exception for a plainly corrupt stream.

    encoding="bytes": Python 2 str keys (b'data') stay bytes instead of failing to decode.
    """
    check_opcodes(blob)
    return _resolve(_Unpickler(io.BytesIO(blob), encoding="bytes").load(), {})
