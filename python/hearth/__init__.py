"""Hearth for Python: a ctypes binding of the C API (include/hearth/hearth.h).

    import hearth
    with hearth.Replica.open("desk", schema_toml=SCHEMA, unencrypted_identity=True) as r:
        r.create_scope_key("hr.workers")
        wid = hearth.new_id()
        with r.batch() as b:                 # committed when the block ends without error
            b.set("worker", wid, "name", "Li Na")
            b.increment("worker", wid, "visits", 1)
        print(r.get("worker", wid)["fields"]["name"]["value"])
        for rec in r.scan("worker"):
            ...

Errors raise hearth.Error subclasses (NotFound, InvalidArgument, ...) that
carry .code and .message. Records come back as dicts (docs/c-api.md, "JSON
shapes"); values going in are None, bool, int, float, str, bytes,
hearth.Timestamp or hearth.Ref.

The shared library is found, in order: $HEARTH_LIBRARY, libhearth.so next
to this package or in the build tree (../../build), then libhearth.so.0
through the dynamic loader (LD_LIBRARY_PATH, the ld.so cache).
"""

import ctypes
import ctypes.util
import json
import os
import time

__all__ = [
    "Error", "NotFound", "InvalidArgument", "Corruption", "IOError_", "Unavailable",
    "Unauthenticated", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "AlreadyExists", "Internal", "Replica", "Batch", "Node", "Watcher", "Timestamp", "Ref",
    "new_id", "abi_version", "save_heads", "load_heads", "ABI_VERSION",
]

ABI_VERSION = 1  # the HEARTH_ABI_VERSION this binding was written for


# ---- errors ----------------------------------------------------------------

class Error(Exception):
    """A failed Hearth call: .code (hearth_code int), .name, .message."""

    code = -1
    name = "unknown"

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.name}: {self.message}"


def _error_class(code, name):
    cls_name = "".join(p.capitalize() for p in name.split("_"))
    return type(cls_name, (Error,), {"code": code, "name": name})


NotFound = _error_class(1, "not_found")
InvalidArgument = _error_class(2, "invalid_argument")
Corruption = _error_class(3, "corruption")
IOError_ = _error_class(4, "io_error")
Unavailable = _error_class(5, "unavailable")
Unauthenticated = _error_class(6, "unauthenticated")
PermissionDenied = _error_class(7, "permission_denied")
ResourceExhausted = _error_class(8, "resource_exhausted")
FailedPrecondition = _error_class(9, "failed_precondition")
AlreadyExists = _error_class(10, "already_exists")
Internal = _error_class(11, "internal")
_ERRORS = {c.code: c for c in (NotFound, InvalidArgument, Corruption, IOError_, Unavailable,
                                Unauthenticated, PermissionDenied, ResourceExhausted,
                                FailedPrecondition, AlreadyExists, Internal)}


# ---- loading the library ---------------------------------------------------

def _find_library():
    env = os.environ.get("HEARTH_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for cand in (os.path.join(here, "libhearth.so"),
                 os.path.join(here, "..", "..", "build", "libhearth.so")):
        if os.path.exists(cand):
            return cand
    return None


def _load_library():
    path = _find_library()
    if path:
        return ctypes.CDLL(path)
    try:  # the dynamic loader's search: LD_LIBRARY_PATH, the ld.so cache, /usr/local/lib
        return ctypes.CDLL("libhearth.so.0")
    except OSError:
        found = ctypes.util.find_library("hearth")
        if not found:
            raise ImportError("libhearth.so.0 not found: install Hearth or set HEARTH_LIBRARY") from None
        return ctypes.CDLL(found)


_lib = _load_library()

_c = ctypes
_p = _c.c_void_p
_s = _c.c_char_p
_pp = _c.POINTER(_c.c_void_p)


class _Value(_c.Structure):
    _fields_ = [("type", _c.c_int), ("i", _c.c_int64), ("d", _c.c_double),
                ("data", _c.c_void_p), ("size", _c.c_size_t)]


class _CommitInfo(_c.Structure):
    _fields_ = [("first_seq", _c.c_uint64), ("last_seq", _c.c_uint64), ("op_count", _c.c_uint64)]


_SCAN_FN = _c.CFUNCTYPE(_c.c_int, _c.c_void_p, _c.POINTER(_c.c_char), _c.c_size_t)
_OUT_STR = _c.POINTER(_c.c_void_p)  # char** (void* so that ctypes does not copy and lose the pointer)

_SIGS = {
    "hearth_abi_version": ([], _c.c_int),
    "hearth_last_error": ([], _s),
    "hearth_free": ([_p], None),
    "hearth_record_id_generate": ([_c.c_char_p, _c.c_size_t], _c.c_int),
    "hearth_options_new": ([_pp], _c.c_int),
    "hearth_options_free": ([_p], None),
    "hearth_options_set_create_if_missing": ([_p, _c.c_int], _c.c_int),
    "hearth_options_set_durability": ([_p, _c.c_int], _c.c_int),
    "hearth_options_set_passphrase": ([_p, _s], _c.c_int),
    "hearth_options_set_unencrypted_identity": ([_p, _c.c_int], _c.c_int),
    "hearth_options_set_root": ([_p, _s], _c.c_int),
    "hearth_options_set_is_root": ([_p, _c.c_int], _c.c_int),
    "hearth_options_set_schema_toml": ([_p, _s], _c.c_int),
    "hearth_options_set_max_resident_map_bytes": ([_p, _c.c_uint64], _c.c_int),
    "hearth_replica_open": ([_s, _p, _pp], _c.c_int),
    "hearth_replica_close": ([_p], _c.c_int),
    "hearth_replica_author": ([_p, _c.c_char_p, _c.c_size_t], _c.c_int),
    "hearth_replica_digest": ([_p, _c.c_char_p, _c.c_size_t], _c.c_int),
    "hearth_replica_create_scope_key": ([_p, _s], _c.c_int),
    "hearth_replica_export_keyring": ([_p, _s, _pp, _c.POINTER(_c.c_size_t)], _c.c_int),
    "hearth_replica_import_keyring": ([_p, _c.c_char_p, _c.c_size_t], _c.c_int),
    "hearth_batch_new": ([_pp], _c.c_int),
    "hearth_batch_free": ([_p], None),
    "hearth_batch_clear": ([_p], _c.c_int),
    "hearth_batch_size": ([_p], _c.c_size_t),
    "hearth_batch_set": ([_p, _s, _s, _s, _c.POINTER(_Value)], _c.c_int),
    "hearth_batch_add": ([_p, _s, _s, _s, _c.POINTER(_Value)], _c.c_int),
    "hearth_batch_remove": ([_p, _s, _s, _s, _c.POINTER(_Value)], _c.c_int),
    "hearth_batch_append": ([_p, _s, _s, _s, _c.POINTER(_Value)], _c.c_int),
    "hearth_batch_increment": ([_p, _s, _s, _s, _c.c_int64], _c.c_int),
    "hearth_batch_advance": ([_p, _s, _s, _s, _s], _c.c_int),
    "hearth_batch_delete": ([_p, _s, _s], _c.c_int),
    "hearth_replica_commit": ([_p, _p, _c.POINTER(_CommitInfo)], _c.c_int),
    "hearth_replica_get_json": ([_p, _s, _s, _OUT_STR], _c.c_int),
    "hearth_replica_find_json": ([_p, _s, _OUT_STR], _c.c_int),
    "hearth_replica_scan": ([_p, _s, _SCAN_FN, _p], _c.c_int),
    "hearth_replica_heads_json": ([_p, _OUT_STR], _c.c_int),
    "hearth_heads_save": ([_s, _s], _c.c_int),
    "hearth_heads_load": ([_s, _OUT_STR], _c.c_int),
    "hearth_replica_deltas_since": ([_p, _s, _c.c_uint64, _pp], _c.c_int),
    "hearth_deltas_count": ([_p], _c.c_size_t),
    "hearth_deltas_get": ([_p, _c.c_size_t, _pp, _c.POINTER(_c.c_size_t)], _c.c_int),
    "hearth_deltas_free": ([_p], None),
    "hearth_replica_apply": ([_p, _c.c_char_p, _c.c_size_t, _OUT_STR], _c.c_int),
    "hearth_bundle_export": ([_p, _s, _s, _OUT_STR], _c.c_int),
    "hearth_bundle_import": ([_p, _s, _OUT_STR], _c.c_int),
    "hearth_replica_changes_json": ([_p, _c.c_uint64, _c.c_uint64, _OUT_STR], _c.c_int),
    "hearth_replica_last_change": ([_p, _c.POINTER(_c.c_uint64)], _c.c_int),
    "hearth_watch_new": ([_p, _pp], _c.c_int),
    "hearth_watch_free": ([_p], None),
    "hearth_watch_wait": ([_p, _c.c_uint64, _c.c_uint32, _c.POINTER(_c.c_int)], _c.c_int),
    "hearth_replica_conflicts_json": ([_p, _s, _OUT_STR], _c.c_int),
    "hearth_replica_history_json": ([_p, _s, _s, _OUT_STR], _c.c_int),
    "hearth_node_create": ([_p, _s, _pp], _c.c_int),
    "hearth_node_free": ([_p], None),
    "hearth_node_listen": ([_p, _s], _c.c_int),
    "hearth_node_listen_endpoints_json": ([_p, _OUT_STR], _c.c_int),
    "hearth_node_connect": ([_p, _s, _s], _c.c_int),
    "hearth_node_start": ([_p], _c.c_int),
    "hearth_node_stop": ([_p], _c.c_int),
    "hearth_node_running": ([_p], _c.c_int),
    "hearth_node_stats_json": ([_p, _OUT_STR], _c.c_int),
}
for _name, (_args, _res) in _SIGS.items():
    _f = getattr(_lib, _name)
    _f.argtypes = _args
    _f.restype = _res

if _lib.hearth_abi_version() != ABI_VERSION:
    raise ImportError(f"libhearth ABI version {_lib.hearth_abi_version()}, this package needs {ABI_VERSION}")


def _check(rc):
    if rc != 0:
        msg = (_lib.hearth_last_error() or b"").decode("utf-8", "replace")
        raise _ERRORS.get(rc, Error)(msg, rc)


def _text(s, what="text"):
    if s is None:
        return None
    if isinstance(s, bytes):
        raw = s  # passed as is: the library checks the UTF-8
    elif isinstance(s, str):
        raw = s.encode("utf-8", "surrogatepass")  # lone surrogates reach the library, which refuses them
    else:
        raise TypeError(f"{what} must be str, not {type(s).__name__}")
    if b"\0" in raw:  # a C string would end there: refuse instead of truncating
        raise InvalidArgument(f"{what} contains a NUL character", 2)
    return raw


def _take_str(ptr):
    """A char* the library returned: decoded, then freed."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        _lib.hearth_free(ptr)


def _call_json(fn, *args):
    out = ctypes.c_void_p()
    _check(fn(*args, ctypes.byref(out)))
    text = _take_str(out)
    return None if text is None else json.loads(text)


# ---- values -----------------------------------------------------------------

class Timestamp(int):
    """Milliseconds since the Unix epoch (UTC)."""


class Ref(str):
    """A reference to a record: its id as 32 hex digits."""


def _value(v):
    """A _Value for v; the second item keeps the buffer alive."""
    if v is None:
        return _Value(0, 0, 0.0, None, 0), None
    if isinstance(v, bool):
        return _Value(1, int(v), 0.0, None, 0), None
    if isinstance(v, Timestamp):
        return _Value(6, int(v), 0.0, None, 0), None
    if isinstance(v, int):
        return _Value(2, v, 0.0, None, 0), None
    if isinstance(v, float):
        return _Value(3, 0, v, None, 0), None
    if isinstance(v, Ref):
        raw = bytes.fromhex(v)
        buf = ctypes.create_string_buffer(raw, len(raw))
        return _Value(7, 0, 0.0, ctypes.cast(buf, ctypes.c_void_p), len(raw)), buf
    if isinstance(v, str):
        raw = v.encode("utf-8", "surrogatepass")
        buf = ctypes.create_string_buffer(raw, len(raw))
        return _Value(4, 0, 0.0, ctypes.cast(buf, ctypes.c_void_p), len(raw)), buf
    if isinstance(v, (bytes, bytearray, memoryview)):
        raw = bytes(v)
        buf = ctypes.create_string_buffer(raw, max(len(raw), 1))
        return _Value(5, 0, 0.0, ctypes.cast(buf, ctypes.c_void_p), len(raw)), buf
    raise TypeError(f"not a Hearth value: {type(v).__name__}")


def new_id():
    """A new time-ordered record id (32 hex digits)."""
    buf = ctypes.create_string_buffer(33)
    _check(_lib.hearth_record_id_generate(buf, 33))
    return buf.value.decode()


def abi_version():
    return _lib.hearth_abi_version()


def save_heads(heads, path):
    """Writes heads (dict from Replica.heads() or its JSON text) to a heads file."""
    text = heads if isinstance(heads, str) else json.dumps(heads)
    _check(_lib.hearth_heads_save(_text(text), _text(path, "path")))


def load_heads(path):
    return _call_json(_lib.hearth_heads_load, _text(path, "path"))


# ---- batches ------------------------------------------------------------------

class Batch:
    """Field operations committed atomically. As a context manager (from
    Replica.batch()) it commits when the block ends without an exception."""

    def __init__(self, replica=None):
        h = ctypes.c_void_p()
        _check(_lib.hearth_batch_new(ctypes.byref(h)))
        self._h = h
        self._replica = replica
        self.info = None

    def _value_op(self, fn, collection, rid, field, value):
        v, keep = _value(value)
        _check(fn(self._h, _text(collection), _text(rid), _text(field), ctypes.byref(v)))
        del keep
        return self

    def set(self, collection, rid, field, value):
        return self._value_op(_lib.hearth_batch_set, collection, rid, field, value)

    def add(self, collection, rid, field, value):
        return self._value_op(_lib.hearth_batch_add, collection, rid, field, value)

    def remove(self, collection, rid, field, value):
        return self._value_op(_lib.hearth_batch_remove, collection, rid, field, value)

    def append(self, collection, rid, field, value):
        return self._value_op(_lib.hearth_batch_append, collection, rid, field, value)

    def increment(self, collection, rid, field, by=1):
        if not isinstance(by, int) or isinstance(by, bool):
            raise TypeError("by must be an int")
        _check(_lib.hearth_batch_increment(self._h, _text(collection), _text(rid), _text(field), by))
        return self

    def advance(self, collection, rid, field, state):
        _check(_lib.hearth_batch_advance(self._h, _text(collection), _text(rid), _text(field), _text(state)))
        return self

    def delete(self, collection, rid):
        _check(_lib.hearth_batch_delete(self._h, _text(collection), _text(rid)))
        return self

    def clear(self):
        _check(_lib.hearth_batch_clear(self._h))

    def __len__(self):
        return _lib.hearth_batch_size(self._h)

    def close(self):
        if self._h:
            _lib.hearth_batch_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None and self._replica is not None:
                self.info = self._replica.commit(self)
        finally:
            self.close()
        return False


# ---- replicas -------------------------------------------------------------------

class Replica:
    """An open replica. Use Replica.open(...) as a context manager, or close()."""

    def __init__(self, handle):
        self._h = handle
        self._nodes = []

    @classmethod
    def open(cls, path, *, schema_toml=None, passphrase=None, unencrypted_identity=False,
             root=None, is_root=False, durability="sync", create_if_missing=True,
             max_resident_map_bytes=None):
        o = ctypes.c_void_p()
        _check(_lib.hearth_options_new(ctypes.byref(o)))
        try:
            _check(_lib.hearth_options_set_create_if_missing(o, int(bool(create_if_missing))))
            if durability not in ("sync", "nosync"):
                raise InvalidArgument("durability is 'sync' or 'nosync'", 2)
            _check(_lib.hearth_options_set_durability(o, 0 if durability == "sync" else 1))
            if passphrase is not None:
                _check(_lib.hearth_options_set_passphrase(o, _text(passphrase, "passphrase")))
            _check(_lib.hearth_options_set_unencrypted_identity(o, int(bool(unencrypted_identity))))
            if root is not None:
                _check(_lib.hearth_options_set_root(o, _text(root, "root")))
            _check(_lib.hearth_options_set_is_root(o, int(bool(is_root))))
            if schema_toml is not None:
                _check(_lib.hearth_options_set_schema_toml(o, _text(schema_toml, "schema")))
            if max_resident_map_bytes is not None:
                if not isinstance(max_resident_map_bytes, int) or not 0 <= max_resident_map_bytes < 2**64:
                    raise InvalidArgument("max_resident_map_bytes is an int in 0 .. 2**64-1", 2)
                _check(_lib.hearth_options_set_max_resident_map_bytes(o, max_resident_map_bytes))
            h = ctypes.c_void_p()
            _check(_lib.hearth_replica_open(_text(os.fspath(path), "path"), o, ctypes.byref(h)))
        finally:
            _lib.hearth_options_free(o)
        return cls(h)

    def close(self):
        if self._h:
            for n in list(self._nodes):
                n.close()
            self._nodes = []
            _check(_lib.hearth_replica_close(self._h))
            self._h = None

    def __del__(self):  # a replica not closed explicitly: closed when collected
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _handle(self):
        if not self._h:
            raise FailedPrecondition("replica is closed", 9)
        return self._h

    @property
    def author(self):
        buf = ctypes.create_string_buffer(65)
        _check(_lib.hearth_replica_author(self._handle(), buf, 65))
        return buf.value.decode()

    def digest(self):
        buf = ctypes.create_string_buffer(32)
        _check(_lib.hearth_replica_digest(self._handle(), buf, 32))
        return buf.raw

    def create_scope_key(self, scope):
        _check(_lib.hearth_replica_create_scope_key(self._handle(), _text(scope)))

    def export_keyring(self, scopes=None):
        out = ctypes.c_void_p()
        n = ctypes.c_size_t()
        csv = None if not scopes else ",".join(scopes)
        _check(_lib.hearth_replica_export_keyring(self._handle(), _text(csv), ctypes.byref(out), ctypes.byref(n)))
        try:
            return ctypes.string_at(out.value, n.value)
        finally:
            _lib.hearth_free(out)

    def import_keyring(self, data):
        data = bytes(data)
        _check(_lib.hearth_replica_import_keyring(self._handle(), data, len(data)))

    def batch(self):
        """A Batch committed at the end of a `with` block."""
        self._handle()
        return Batch(self)

    def commit(self, batch):
        info = _CommitInfo()
        _check(_lib.hearth_replica_commit(self._handle(), batch._h, ctypes.byref(info)))
        return {"first_seq": info.first_seq, "last_seq": info.last_seq, "op_count": info.op_count}

    def get(self, collection, rid):
        """The record as a dict; raises NotFound."""
        return _call_json(_lib.hearth_replica_get_json, self._handle(), _text(collection), _text(rid))

    def find(self, collection, field=None, *, equals=None, lower=None, upper=None, limit=None,
             include_deleted=False):
        q = {"collection": collection, "include_deleted": include_deleted}
        if field is not None:
            q["field"] = field
        for key, v in (("equals", equals), ("lower", lower), ("upper", upper)):
            if v is not None:
                q[key] = _json_value(v)
        if limit is not None:
            q["limit"] = limit
        return _call_json(_lib.hearth_replica_find_json, self._handle(), _text(json.dumps(q)))

    def scan(self, collection):
        """Iterates the collection's records (dicts) in id order. The scan
        runs in one read transaction; records are collected, then yielded."""
        records = []

        def cb(_ctx, text, n):
            records.append(ctypes.string_at(text, n))
            return 0

        fn = _SCAN_FN(cb)
        _check(_lib.hearth_replica_scan(self._handle(), _text(collection), fn, None))
        for raw in records:
            yield json.loads(raw)

    def heads(self):
        return _call_json(_lib.hearth_replica_heads_json, self._handle())

    def deltas_since(self, heads=None, max_bytes=2**64 - 1):
        """List of delta bytes the given heads (dict or None = all) lack."""
        d = ctypes.c_void_p()
        text = None if heads is None else json.dumps(heads)
        _check(_lib.hearth_replica_deltas_since(self._handle(), _text(text), max_bytes, ctypes.byref(d)))
        try:
            out = []
            for i in range(_lib.hearth_deltas_count(d)):
                p = ctypes.c_void_p()
                n = ctypes.c_size_t()
                _check(_lib.hearth_deltas_get(d, i, ctypes.byref(p), ctypes.byref(n)))
                out.append(ctypes.string_at(p.value, n.value))
            return out
        finally:
            _lib.hearth_deltas_free(d)

    def apply(self, delta):
        delta = bytes(delta)
        return _call_json(_lib.hearth_replica_apply, self._handle(), delta, len(delta))

    def export_bundle(self, path, since=None):
        text = None if since is None else json.dumps(since)
        return _call_json(_lib.hearth_bundle_export, self._handle(), _text(text), _text(os.fspath(path)))

    def import_bundle(self, path):
        return _call_json(_lib.hearth_bundle_import, self._handle(), _text(os.fspath(path)))

    # ---- change feed, conflicts, history ----

    def changes(self, since=0, limit=None):
        """Changes numbered above `since` (list of dicts), oldest first."""
        return _call_json(_lib.hearth_replica_changes_json, self._handle(), since, limit or 0)

    @property
    def last_change(self):
        n = ctypes.c_uint64()
        _check(_lib.hearth_replica_last_change(self._handle(), ctypes.byref(n)))
        return n.value

    def watch(self):
        """A Watcher: wait(after, timeout) wakes on changes by any process."""
        h = ctypes.c_void_p()
        _check(_lib.hearth_watch_new(self._handle(), ctypes.byref(h)))
        w = Watcher(h, self)
        self._nodes.append(w)
        return w

    def follow(self, since=0, *, timeout=None, poll=1.0):
        """Iterates changes above `since` as they are committed (by this or
        another process), forever or until `timeout` seconds pass without
        a new change."""
        with self.watch() as w:
            idle_since = time.monotonic()
            while True:
                batch = self.changes(since, 1000)
                for c in batch:
                    since = c["number"]
                    yield c
                if batch:
                    idle_since = time.monotonic()
                    continue
                if timeout is not None and time.monotonic() - idle_since >= timeout:
                    return
                wait = poll if timeout is None else max(0.0, min(poll, timeout - (time.monotonic() - idle_since)))
                w.wait(since, wait)

    def conflicts(self, collection=None):
        return _call_json(_lib.hearth_replica_conflicts_json, self._handle(), _text(collection))

    def history(self, collection, rid):
        return _call_json(_lib.hearth_replica_history_json, self._handle(), _text(collection), _text(rid))

    def node(self, *, tick_ms=None, heads_poll_ms=None):
        """A sync Node on this replica (closed with the replica at the latest)."""
        opts = {k: v for k, v in (("tick_ms", tick_ms), ("heads_poll_ms", heads_poll_ms)) if v is not None}
        h = ctypes.c_void_p()
        _check(_lib.hearth_node_create(self._handle(), _text(json.dumps(opts) if opts else None),
                                       ctypes.byref(h)))
        n = Node(h, self)
        self._nodes.append(n)
        return n


def _json_value(v):
    if isinstance(v, Timestamp):
        return {"$ts": int(v)}
    if isinstance(v, Ref):
        return {"$ref": str(v)}
    if isinstance(v, (bytes, bytearray)):
        return {"$bytes": bytes(v).hex()}
    return v


class Watcher:
    """A subscription to the change feed (Replica.watch())."""

    def __init__(self, handle, replica):
        self._h = handle
        self._replica = replica

    def wait(self, after, timeout):
        """True when the last change number exceeds `after` within `timeout` s."""
        changed = ctypes.c_int()
        ms = max(0, min(int(timeout * 1000), 3_600_000))
        _check(_lib.hearth_watch_wait(self._h, after, ms, ctypes.byref(changed)))
        return changed.value == 1

    def close(self):
        if self._h:
            _lib.hearth_watch_free(self._h)
            self._h = None
            if self in self._replica._nodes:
                self._replica._nodes.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---- sync nodes -------------------------------------------------------------------

class Node:
    """Runs the sync protocol over ZeroMQ. listen()/connect() before start()."""

    def __init__(self, handle, replica):
        self._h = handle
        self._replica = replica

    def listen(self, endpoint):
        _check(_lib.hearth_node_listen(self._h, _text(endpoint)))
        return self

    @property
    def endpoints(self):
        return _call_json(_lib.hearth_node_listen_endpoints_json, self._h)

    def connect(self, endpoint, peer):
        _check(_lib.hearth_node_connect(self._h, _text(endpoint), _text(peer)))
        return self

    def start(self):
        _check(_lib.hearth_node_start(self._h))
        return self

    def stop(self):
        if self._h:
            _check(_lib.hearth_node_stop(self._h))

    @property
    def running(self):
        return bool(self._h) and _lib.hearth_node_running(self._h) == 1

    def stats(self):
        return _call_json(_lib.hearth_node_stats_json, self._h)

    def close(self):
        if self._h:
            _lib.hearth_node_free(self._h)
            self._h = None
            if self in self._replica._nodes:
                self._replica._nodes.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
