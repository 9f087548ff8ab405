"""What crosses the socket between the grader and a student's process, and how.

Messages are length-prefixed JSON. Values are tagged plain data: numbers, strings, lists,
tuples, dicts with string keys, numpy arrays and torch tensors (both as .npy bytes, numeric
dtypes only, never pickle). Anything else stays where it was made and crosses as a *handle*:
a token naming the object in the process that owns it, which the other side can pass back or
ask about (call it, call a method, read an attribute). Decoding is strict: an array that
arrives is a plain ndarray or a plain tensor built from its bytes, whatever the sender's
object pretended to be.
"""
import base64
import io
import json
import struct
import sys

MAX_MESSAGE = 64 << 20  # bytes; a bigger reply is refused and counts against the submission
MAX_DEPTH = 20  # containers nested deeper than this are not data


def send_message(sock, obj):
    data = json.dumps(obj).encode()
    sock.sendall(struct.pack("!I", len(data)) + data)


def _recv_exact(sock, n):
    chunks, left = [], n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the student's process closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def recv_message(sock, limit=MAX_MESSAGE):
    (n,) = struct.unpack("!I", _recv_exact(sock, 4))
    if n > limit:
        raise ValueError(f"a reply of {n} bytes is over the {limit}-byte limit")
    return json.loads(_recv_exact(sock, n))


def _npy(arr):
    import numpy as np

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)  # keeps 0-d arrays 0-d
    return base64.b64encode(buf.getvalue()).decode()


def _tensor_array(value):
    """A tensor's values as a numpy array (bfloat16 and friends widened to float32)."""
    torch = sys.modules["torch"]
    value = value.detach().cpu()
    if value.dtype in (torch.bfloat16, torch.complex32) or str(value.dtype).startswith("torch.float8"):
        value = value.float()
    return value.resolve_conj().resolve_neg().numpy()


def encode(value, handle=None, ref=None, _depth=0):
    """Turn ``value`` into tagged plain data.

    handle(obj) -> token registers an object that is not data (a cache object, a module); without
    it such an object becomes ``{"__object__": type name}``, which the other side cannot use.
    ref(obj) -> token: for the stand-ins of the other side's objects (classes marking themselves
    with ``__wire__``), which go back as references to what they stand for.
    """
    import numpy as np

    if _depth > MAX_DEPTH:
        return {"__object__": "deeply nested value"}
    if getattr(type(value), "__wire__", False):
        if ref is None:
            raise ValueError("a handle cannot be sent here")
        return {"__ref__": ref(value)}
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        try:
            arr = _tensor_array(value)
        except Exception:
            return {"__object__": type(value).__name__}
        if arr.dtype.kind not in "biufc":
            return {"__object__": f"tensor of dtype {value.dtype}"}
        return {"__tensor__": _npy(arr)}
    if isinstance(value, (np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind not in "biufc":
            return {"__object__": f"numpy array of dtype {arr.dtype}"}
        return {"__nd__" if isinstance(value, np.ndarray) else "__npscalar__": _npy(arr)}
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, str)):  # subclasses too, as the plain value they hold
        return int.__index__(value) if isinstance(value, int) else str.__str__(value)
    if isinstance(value, float):
        return {"__float__": repr(float.__float__(value))}
    # containers, subclasses too (a state_dict, a named tuple), read through the base type's own
    # methods so that an override cannot change what is sent
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, handle, ref, _depth + 1) for v in tuple.__iter__(value)]}
    if isinstance(value, list):
        return {"__list__": [encode(v, handle, ref, _depth + 1) for v in list.__iter__(value)]}
    if isinstance(value, dict) and all(type(k) is str for k in dict.keys(value)):
        return {"__dict__": {k: encode(v, handle, ref, _depth + 1) for k, v in dict.items(value)}}
    if handle is not None:
        return {"__handle__": handle(value), "type": type(value).__name__}
    return {"__object__": type(value).__name__}


def _read_npy(text):
    import numpy as np

    arr = np.lib.format.read_array(io.BytesIO(base64.b64decode(text)), allow_pickle=False)
    if arr.dtype.kind not in "biufc":
        raise ValueError(f"array of dtype {arr.dtype}")
    return arr


class Opaque:
    """Stands for a value that could not be sent (an object with no owner to keep it)."""

    def __init__(self, type_name):
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} object>"


def decode(data, handle=None, ref=None):
    """Inverse of encode, strict: only plain numbers, strings, containers and numeric arrays.

    handle(token, type_name) -> the receiver's stand-in for an object the sender kept;
    ref(token) -> the receiver's own object that the sender refers to.
    """
    if data is None or isinstance(data, (bool, int, str)):
        return data
    if isinstance(data, float):
        return data
    if not isinstance(data, dict):
        raise ValueError("malformed value")
    if "__handle__" in data:
        if set(data) != {"__handle__", "type"} or not isinstance(data["__handle__"], str) \
                or not isinstance(data["type"], str) or handle is None:
            raise ValueError("malformed handle")
        return handle(data["__handle__"], data["type"][:100])
    if len(data) != 1:
        raise ValueError("malformed value")
    (key, inner), = data.items()
    if key == "__float__":
        return float(inner)
    if key in ("__nd__", "__npscalar__"):
        arr = _read_npy(inner)
        return arr if key == "__nd__" else arr[()]
    if key == "__tensor__":
        import torch

        return torch.from_numpy(_read_npy(inner).copy())
    if key == "__ref__":
        if ref is None or not isinstance(inner, str):
            raise ValueError("a reference to an object where none can be")
        return ref(inner)
    if key == "__tuple__":
        return tuple(decode(v, handle, ref) for v in inner)
    if key == "__list__":
        return [decode(v, handle, ref) for v in inner]
    if key == "__dict__":
        return {str(k): decode(v, handle, ref) for k, v in inner.items()}
    if key == "__object__":
        return Opaque(str(inner)[:100])
    raise ValueError(f"unknown value tag {key!r}")
