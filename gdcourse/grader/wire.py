"""Plain data across the trust boundary: what the grader and a student's kernel may exchange.

Both sides encode values as JSON (never pickle, never eval). The grader *decodes* what a kernel
sends with :func:`decode`, which accepts only plain data and raises :class:`NotData` for anything
else, whatever the kernel claims:

- ``None``, ``bool``, ``int``, ``float`` (NaN and infinities included), ``str``: JSON itself;
- lists, tuples and dicts with string keys, nested at most :data:`MAX_DEPTH` deep;
- NumPy arrays of booleans or numbers (exactly ``numpy.ndarray``, no subclass) and NumPy scalars,
  as ``.npy`` bytes read back with ``np.load(..., allow_pickle=False)``, at most
  :data:`MAX_ELEMENTS` elements each;
- an optimizer of ``gdcourse.optim`` (its class name and settings; rebuilt by the receiver);
- from the grader only: a random generator (its state) and a callable (an id the kernel calls
  back through the grader; see :mod:`gdcourse.grader.kernel_side`).

Every container on the wire is a one-key dict tagged ``__gd_<kind>__``, so a student's dict can
never pass for something else. This module needs only NumPy: it is imported inside the kernel.
"""

from __future__ import annotations

import base64
import io
import json
import math
from typing import Any

import numpy as np

MAX_DEPTH = 24
MAX_ELEMENTS = 1 << 22  # per array: 32 MiB of float64
MAX_BYTES = 64 << 20  # per message
NUMBER_KINDS = "biufc"
SMALL = 4096  # arrays up to this size travel as JSON lists (faster than .npy both ways)
LISTED = ("float64", "float32", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16",
          "uint8", "bool")

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_ELEMENTS", "NotData", "decode", "describe", "dumps",
           "encode", "loads"]


class NotData(TypeError):
    """A value that is not plain data (and so is not compared, only reported)."""


def describe(value: Any) -> str:
    """A short, safe description of a value's kind, for messages."""
    kind = type(value)
    name = kind.__qualname__ if kind.__module__ in ("builtins", "numpy") else \
        f"{kind.__module__}.{kind.__qualname__}"
    return f"an object of type {name}"


def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _from_npy(text: Any) -> np.ndarray:
    if not isinstance(text, str) or len(text) > MAX_BYTES:
        raise NotData("a malformed array")
    try:
        array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    # Bytes from the other side through NumPy's .npy reader: whatever it raises on them
    # (ValueError, TypeError, IndexError on an odd header, MemoryError on a huge shape,
    # RecursionError, BadZipFile...) means a malformed array, refused as such.
    except Exception as error:  # noqa: BLE001  (untrusted bytes: any parse failure is NotData)
        raise NotData(f"a malformed array ({type(error).__name__})") from None
    _check_array(array)
    return array


def _from_list(dtype: Any, shape: Any, values: Any) -> np.ndarray:
    """A small array sent as a JSON list (exact: floats round-trip through their repr)."""
    if dtype not in LISTED or type(shape) is not list or type(values) is not list or \
            not all(type(n) is int and 0 <= n <= SMALL for n in shape) or \
            len(values) > SMALL or not all(type(v) in (int, float, bool) for v in values):
        raise NotData("a malformed array")
    try:
        return np.array(values, dtype=dtype).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        raise NotData("a malformed array") from None


def _check_array(array: Any) -> None:
    if type(array) is not np.ndarray:
        raise NotData(f"{describe(array)} (a NumPy subclass is not plain data: return "
                      f"np.asarray(...) of it)")
    if array.dtype.kind not in NUMBER_KINDS or array.dtype.fields is not None:
        raise NotData(f"an array of dtype {array.dtype} (only booleans and numbers are data)")
    if array.size > MAX_ELEMENTS:
        raise NotData(f"an array of {array.size} elements (more than {MAX_ELEMENTS})")


def encode(value: Any, *, callback=None, depth: int = 0) -> Any:
    """``value`` as JSON-ready data, or :class:`NotData`. ``callback(value)`` (the grader's side)
    may turn a callable into an id the kernel calls back."""
    if depth > MAX_DEPTH:
        raise NotData(f"a structure nested more than {MAX_DEPTH} deep (a recursive one?)")
    kind = type(value)
    if value is None or kind in (bool, str):
        return value
    if kind is int:
        return value
    if kind is float:
        return value if math.isfinite(value) else {"__gd_float__": repr(value)}
    if isinstance(value, np.ndarray):
        _check_array(value)  # refuses subclasses, saying so
        if value.size <= SMALL and value.dtype.name in LISTED and \
                (value.dtype.kind != "f" or np.isfinite(value).all()):
            return {"__gd_list_array__": [value.dtype.name, list(value.shape),
                                          value.ravel().tolist()]}
        return {"__gd_array__": _npy(value)}
    if isinstance(value, np.generic) and kind.__module__ == "numpy":
        if value.dtype.kind not in NUMBER_KINDS:
            raise NotData(describe(value))
        if value.dtype.name in LISTED and (value.dtype.kind != "f" or np.isfinite(value)):
            return {"__gd_scalar__": [value.dtype.name, value.item()]}
        return {"__gd_scalar__": _npy(np.asarray(value))}
    if kind in (list, tuple):
        items = [encode(item, callback=callback, depth=depth + 1) for item in value]
        return {"__gd_list__" if kind is list else "__gd_tuple__": items}
    if kind is dict:
        if not all(type(key) is str for key in value):
            raise NotData("a dict whose keys are not all strings")
        return {"__gd_dict__": {key: encode(item, callback=callback, depth=depth + 1)
                                for key, item in value.items()}}
    if kind is np.random.Generator and type(value.bit_generator) is np.random.PCG64:
        return {"__gd_generator__": value.bit_generator.state}
    if kind.__module__ == "gdcourse.optim" and _optimizer_class(kind.__name__) is kind:
        import dataclasses

        fields = {field.name: encode(getattr(value, field.name), depth=depth + 1)
                  for field in dataclasses.fields(value)}
        return {"__gd_optimizer__": [kind.__name__, fields]}
    if callback is not None and callable(value) and not isinstance(value, type):
        return callback(value)  # {"__gd_callback__": id} or {"__gd_student__": name}
    raise NotData(describe(value))


def _optimizer_class(name: str):
    from gdcourse import optim

    if name not in getattr(optim, "__all__", ()):
        return None
    cls = getattr(optim, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, optim.Optimizer) else None


def decode(data: Any, *, callback=None, depth: int = 0) -> Any:
    """The value :func:`encode` made, checked again: anything malformed raises
    :class:`NotData`. ``callback(id)`` (the kernel's side) makes a callable for an id."""
    if depth > MAX_DEPTH + 1:
        raise NotData(f"a structure nested more than {MAX_DEPTH} deep")
    kind = type(data)
    if data is None or kind in (bool, str, int):
        return data
    if kind is float:
        return data
    if kind is not dict or len(data) != 1:
        raise NotData("malformed data")
    ((tag, body),) = data.items()
    if tag == "__gd_float__" and body in ("nan", "inf", "-inf"):
        return float(body)
    if tag == "__gd_array__":
        return _from_npy(body)
    if tag == "__gd_list_array__" and type(body) is list and len(body) == 3:
        return _from_list(*body)
    if tag == "__gd_scalar__":
        if type(body) is list and len(body) == 2:
            return _from_list(body[0], [], [body[1]])[()]
        array = _from_npy(body)
        if array.ndim != 0:
            raise NotData("a malformed scalar")
        return array[()]
    if tag in ("__gd_list__", "__gd_tuple__") and type(body) is list:
        items = [decode(item, callback=callback, depth=depth + 1) for item in body]
        return items if tag == "__gd_list__" else tuple(items)
    if tag == "__gd_dict__" and type(body) is dict:
        return {key: decode(item, callback=callback, depth=depth + 1)
                for key, item in body.items()}
    if tag == "__gd_optimizer__" and type(body) is list and len(body) == 2:
        name, fields = body
        cls = _optimizer_class(name) if type(name) is str else None
        if cls is None or type(fields) is not dict:
            raise NotData("an optimizer that is not one of gdcourse.optim")
        try:
            return cls(**{key: decode(item, depth=depth + 1) for key, item in fields.items()})
        except (TypeError, ValueError) as error:
            raise NotData(f"a {name} with settings it refuses ({error})") from None
    if tag == "__gd_generator__" and type(body) is dict:
        generator = np.random.Generator(np.random.PCG64())
        try:
            generator.bit_generator.state = body
        except (TypeError, ValueError, KeyError, OverflowError):
            raise NotData("a malformed random generator") from None
        return generator
    if callback is not None and ((tag == "__gd_callback__" and type(body) is int)
                                 or (tag == "__gd_student__" and type(body) is str)):
        return callback(tag, body)
    raise NotData("malformed data")


def dumps(value: Any) -> str:
    """JSON text of already encoded data, refused beyond :data:`MAX_BYTES`."""
    text = json.dumps(value, allow_nan=False, separators=(",", ":"))
    if len(text) > MAX_BYTES:
        raise NotData(f"{len(text) >> 20} MiB of data (more than {MAX_BYTES >> 20} MiB)")
    return text


def loads(text: Any) -> Any:
    """Parse JSON text from the other side (size checked first; no NaN literals)."""
    if not isinstance(text, str) or len(text) > MAX_BYTES:
        raise NotData("a message that is too large or not text")

    def refuse(_constant):
        raise NotData("malformed data")

    try:
        return json.loads(text, parse_constant=refuse)
    except (ValueError, RecursionError):
        raise NotData("malformed data") from None
