"""Write Tidemark transform plugins in Python (built with componentize-py).

A transform is a class with ``__init__(self, config)`` and ``apply(self, record)``, exported
with one line::

    from tidemark_sdk import Transform, Config, Record, KEEP, export

    class Upper(Transform):
        def __init__(self, config: Config):
            self.prefix = config.get("prefix", "")

        def apply(self, record: Record):
            record.set_topic(self.prefix + record.topic().upper())
            return KEEP

    Transformer = export(Upper)

Records stay in the host: a plugin reads and writes only the fields it asks for, by dotted
path (``after.email``). This mirrors the Rust SDK (``tidemark-sdk``) name for name.
"""

from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from componentize_py_types import Err
from wit_world.exports import transformer as wit_out
from wit_world.imports import host as wit_host
from wit_world.imports import types as wit

__all__ = [
    "Config", "Record", "Transform", "export", "log", "Level",
    "KEY", "VALUE", "KEEP", "DROP", "CURRENT", "Emit", "Fail", "NewRecord", "Data",
    "Header", "Schema", "SchemaType", "Int8", "Int16", "Int32", "Int64", "Float32",
    "Float64", "Struct", "Map", "AccessError",
]

KEY = wit.Part.KEY
VALUE = wit.Part.VALUE
Level = wit_host.Level
SchemaType = wit.SchemaType


def log(level: "Level", message: str) -> None:
    """Writes a line to the host's log, tagged with the plugin's name."""
    wit_host.log(level, message)


# ---------------------------------------------------------------------------------------
# Values. Kafka Connect values keep their exact type across the boundary: the int and float
# subclasses below say which one; plain ``int`` is Int64 and plain ``float`` Float64.


class Int8(int):
    """An ``int8`` value."""


class Int16(int):
    """An ``int16`` value."""


class Int32(int):
    """An ``int32`` value."""


class Int64(int):
    """An ``int64`` value."""


class Float32(float):
    """A ``float32`` value."""


class Float64(float):
    """A ``float64`` value."""


class Struct(list):
    """A struct value: its field values in the order of the struct schema's fields."""


class Map(list):
    """A map value: a list of ``(key, value)`` pairs, in order."""


class AccessError(Exception):
    """The host refused an accessor call: no such record or field, or a type mismatch."""


def _to_nodes(value: Any) -> List[Any]:
    nodes: List[Any] = []
    _push(value, nodes)
    return nodes


def _push(value: Any, nodes: List[Any]) -> int:
    index = len(nodes)
    nodes.append(None)
    if value is None:
        node = wit.ValueNode_Null()
    elif isinstance(value, bool):
        node = wit.ValueNode_Boolean(value)
    elif isinstance(value, Int8):
        node = wit.ValueNode_Int8(int(value))
    elif isinstance(value, Int16):
        node = wit.ValueNode_Int16(int(value))
    elif isinstance(value, Int32):
        node = wit.ValueNode_Int32(int(value))
    elif isinstance(value, int):
        node = wit.ValueNode_Int64(int(value))
    elif isinstance(value, Float32):
        node = wit.ValueNode_Float32(float(value))
    elif isinstance(value, float):
        node = wit.ValueNode_Float64(float(value))
    elif isinstance(value, str):
        node = wit.ValueNode_String(value)
    elif isinstance(value, (bytes, bytearray)):
        node = wit.ValueNode_Bytes(bytes(value))
    elif isinstance(value, Struct):
        node = wit.ValueNode_Struct([_push(v, nodes) for v in value])
    elif isinstance(value, (Map, dict)):
        pairs = value.items() if isinstance(value, dict) else value
        node = wit.ValueNode_Map([(_push(k, nodes), _push(v, nodes)) for k, v in pairs])
    elif isinstance(value, (list, tuple)):
        node = wit.ValueNode_Array([_push(v, nodes) for v in value])
    else:
        raise TypeError(f"cannot send a {type(value).__name__} to the host as a Connect value")
    nodes[index] = node
    return index


def _from_nodes(nodes: List[Any], index: int = 0) -> Any:
    node = nodes[index]
    if isinstance(node, wit.ValueNode_Null):
        return None
    if isinstance(node, wit.ValueNode_Boolean):
        return node.value
    if isinstance(node, wit.ValueNode_Int8):
        return Int8(node.value)
    if isinstance(node, wit.ValueNode_Int16):
        return Int16(node.value)
    if isinstance(node, wit.ValueNode_Int32):
        return Int32(node.value)
    if isinstance(node, wit.ValueNode_Int64):
        return Int64(node.value)
    if isinstance(node, wit.ValueNode_Float32):
        return Float32(node.value)
    if isinstance(node, wit.ValueNode_Float64):
        return Float64(node.value)
    if isinstance(node, (wit.ValueNode_String, wit.ValueNode_Bytes)):
        return node.value
    if isinstance(node, wit.ValueNode_Array):
        return [_from_nodes(nodes, i) for i in node.value]
    if isinstance(node, wit.ValueNode_Map):
        return Map((_from_nodes(nodes, k), _from_nodes(nodes, v)) for k, v in node.value)
    return Struct(_from_nodes(nodes, i) for i in node.value)


# ---------------------------------------------------------------------------------------
# Schemas.


@dataclass
class Schema:
    """A Kafka Connect schema."""

    kind: "SchemaType"
    optional: bool = False
    name: Optional[str] = None
    version: Optional[int] = None
    doc: Optional[str] = None
    parameters: List[Tuple[str, str]] = field(default_factory=list)
    default: Any = None
    #: Struct fields in order, as ``(name, Schema)`` pairs.
    fields: List[Tuple[str, "Schema"]] = field(default_factory=list)
    #: Key schema (maps).
    keys: Optional["Schema"] = None
    #: Element (arrays) or value (maps) schema.
    values: Optional["Schema"] = None

    def field_schema(self, name: str) -> Optional["Schema"]:
        """The schema of a struct field by name."""
        return next((s for n, s in self.fields if n == name), None)

    def field_index(self, name: str) -> Optional[int]:
        """The position of a struct field by name."""
        return next((i for i, (n, _) in enumerate(self.fields) if n == name), None)

    def _to_nodes(self) -> List[Any]:
        nodes: List[Any] = []
        self._push(nodes)
        return nodes

    def _push(self, nodes: List[Any]) -> int:
        index = len(nodes)
        nodes.append(None)
        fields = [wit.Field(n, s._push(nodes)) for n, s in self.fields]
        keys = self.keys._push(nodes) if self.keys is not None else None
        values = self.values._push(nodes) if self.values is not None else None
        default = _to_nodes(self.default) if self.default is not None else None
        nodes[index] = wit.SchemaNode(
            self.kind, self.optional, self.name, self.version, self.doc,
            list(self.parameters), default, fields, keys, values,
        )
        return index

    @staticmethod
    def _from_nodes(nodes: List[Any], index: int = 0) -> "Schema":
        n = nodes[index]
        return Schema(
            kind=n.type,
            optional=n.optional,
            name=n.name,
            version=n.version,
            doc=n.doc,
            parameters=list(n.parameters),
            default=_from_nodes(n.default_value) if n.default_value is not None else None,
            fields=[(f.name, Schema._from_nodes(nodes, f.schema)) for f in n.fields],
            keys=Schema._from_nodes(nodes, n.key_schema) if n.key_schema is not None else None,
            values=(Schema._from_nodes(nodes, n.value_schema)
                    if n.value_schema is not None else None),
        )


# ---------------------------------------------------------------------------------------
# Records and outcomes.


@dataclass
class Header:
    """A record header (Connect's SimpleHeaderConverter text)."""

    key: str
    value: Optional[str]


@dataclass
class Data:
    """A key or value with its schema (``schema=None``: schemaless)."""

    value: Any
    schema: Optional[Schema] = None

    def _to_wit(self) -> Any:
        schema = self.schema._to_nodes() if self.schema is not None else None
        return wit.TypedValue(schema, _to_nodes(self.value))


@dataclass
class NewRecord:
    """A record built by the plugin, emitted in place of an input record."""

    topic: str
    key: Optional[Data] = None
    #: ``None`` is a tombstone.
    value: Optional[Data] = None
    headers: List[Header] = field(default_factory=list)
    timestamp: Optional[int] = None

    def _to_wit(self) -> Any:
        return wit.RecordData(
            self.topic,
            self.key._to_wit() if self.key is not None else None,
            self.value._to_wit() if self.value is not None else None,
            [wit.Header(h.key, h.value) for h in self.headers],
            self.timestamp,
        )


class _Current:
    def __repr__(self) -> str:
        return "CURRENT"


#: Emitted in an ``Emit`` list: the input record itself, with its edits.
CURRENT = _Current()
#: Pass the record on, with any edits (returning ``None`` from ``apply`` means the same).
KEEP = wit_out.Outcome_Keep()
#: Remove the record.
DROP = wit_out.Outcome_Drop()


def Emit(items: List[Any]) -> Any:  # noqa: N802 (reads like the Rust SDK's Outcome::Emit)
    """Replace the record by these, in order: ``CURRENT`` and/or ``NewRecord`` values."""
    out = []
    for item in items:
        if item is CURRENT:
            out.append(wit_out.Emitted_Current())
        else:
            out.append(wit_out.Emitted_Created(item._to_wit()))
    return wit_out.Outcome_Emit(out)


def Fail(reason: str) -> Any:  # noqa: N802
    """The record cannot be transformed: the host applies ``errors.tolerance``."""
    return wit_out.Outcome_Fail(str(reason))


def _unwrap(call, *args):
    try:
        return call(*args)
    except Err as e:
        error = e.value
        raise AccessError(getattr(error, "value", error)) from None


class Record:
    """One record of the batch being processed; reads and edits go to the host, field by
    field, and nothing is copied that is not asked for."""

    __slots__ = ("_batch", "index")

    def __init__(self, batch: Any, index: int):
        self._batch = batch
        #: The record's position in its batch.
        self.index = index

    def topic(self) -> str:
        return _unwrap(self._batch.topic, self.index)

    def set_topic(self, topic: str) -> None:
        _unwrap(self._batch.set_topic, self.index, topic)

    def timestamp(self) -> Optional[int]:
        """Milliseconds since the Unix epoch, if known."""
        return _unwrap(self._batch.timestamp, self.index)

    def set_timestamp(self, timestamp: Optional[int]) -> None:
        _unwrap(self._batch.set_timestamp, self.index, timestamp)

    def is_tombstone(self) -> bool:
        """True when the value is null."""
        return _unwrap(self._batch.is_tombstone, self.index)

    def headers(self) -> List[Header]:
        return [Header(h.key, h.value) for h in _unwrap(self._batch.headers, self.index)]

    def header(self, key: str) -> Optional[Header]:
        """The last header with this key."""
        return next((h for h in reversed(self.headers()) if h.key == key), None)

    def set_headers(self, headers: List[Header]) -> None:
        _unwrap(self._batch.set_headers, self.index, [wit.Header(h.key, h.value) for h in headers])

    def add_header(self, key: str, value: Optional[str]) -> None:
        self.set_headers(self.headers() + [Header(key, value)])

    def get(self, part: Any, path: str) -> Any:
        """The value at a dotted path of the key or value (``""`` = all of it); ``None``
        when the part, or a struct on the path, is null. Raises AccessError for a path
        that does not exist."""
        nodes = _unwrap(self._batch.get, self.index, part, path)
        return None if nodes is None else _from_nodes(nodes)

    def value_field(self, path: str) -> Any:
        """A field of the value by dotted path (``after.email``); ``None`` if absent or null."""
        try:
            return self.get(VALUE, path)
        except AccessError:
            return None

    def key_field(self, path: str) -> Any:
        """A field of the key by dotted path; ``None`` if absent or null."""
        try:
            return self.get(KEY, path)
        except AccessError:
            return None

    def set(self, part: Any, path: str, value: Any) -> None:
        """Sets the value at a dotted path; it must fit the field's schema."""
        _unwrap(self._batch.set, self.index, part, path, _to_nodes(value))

    def set_value_field(self, path: str, value: Any) -> None:
        self.set(VALUE, path, value)

    def schema(self, part: Any, path: str = "") -> Optional[Schema]:
        """The schema at a dotted path; ``None`` when schemaless or null."""
        nodes = _unwrap(self._batch.schema, self.index, part, path)
        return None if nodes is None else Schema._from_nodes(nodes)

    def schema_id(self, part: Any) -> Optional[int]:
        """An id equal for equal schemas, to cache work per schema."""
        return _unwrap(self._batch.schema_id, self.index, part)

    def data(self, part: Any) -> Optional[Data]:
        """The whole key or value with its schema; ``None`` when null."""
        value = self.get(part, "")
        if value is None:
            return None
        return Data(value, self.schema(part, ""))

    def replace(self, part: Any, data: Optional[Data]) -> None:
        """Replaces the whole key or value, schema included (``None`` makes it null)."""
        _unwrap(self._batch.replace, self.index, part, data._to_wit() if data else None)

    def tombstone(self) -> NewRecord:
        """A tombstone for this record: same topic, key and headers, null value."""
        return NewRecord(self.topic(), self.data(KEY), None, self.headers(), self.timestamp())


class Config:
    """The ``transforms.<name>.*`` properties the plugin was configured with, without the
    prefix."""

    def __init__(self, entries: List[Tuple[str, str]]):
        self._entries = list(entries)

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """A setting's value (the last one given), or ``default``."""
        for k, v in reversed(self._entries):
            if k == key:
                return v
        return default

    def require(self, key: str) -> str:
        """A setting that must be present; the error names it."""
        value = self.get(key)
        if value is None:
            raise ValueError(f"missing required setting '{key}'")
        return value

    def parse_or(self, key: str, kind: Any, default: Any) -> Any:
        """A setting converted with ``kind`` (``int``, ``float``, ``bool``), or ``default``."""
        text = self.get(key)
        if text is None:
            return default
        try:
            if kind is bool:
                if text.strip().lower() not in ("true", "false"):
                    raise ValueError
                return text.strip().lower() == "true"
            return kind(text.strip())
        except ValueError:
            raise ValueError(f"setting '{key}' has an invalid value {text!r}") from None

    def list(self, key: str) -> List[str]:
        """A comma-separated list setting (empty when absent)."""
        return [s.strip() for s in (self.get(key) or "").split(",") if s.strip()]

    def entries(self) -> List[Tuple[str, str]]:
        return list(self._entries)


class Transform:
    """Base class of a transform: override ``__init__(self, config)`` (raise ``ValueError``
    naming the setting for a bad configuration) and ``apply(self, record)``."""

    def __init__(self, config: Config):
        pass

    def apply(self, record: Record) -> Any:
        """What becomes of one record: ``KEEP`` (or ``None``), ``DROP``, ``Emit([...])`` or
        ``Fail(reason)``. An exception fails the record with its message."""
        return KEEP


def export(transform_class: type) -> type:
    """Makes the class componentize-py exports as ``tidemark:plugin/transformer``; assign it
    to a module-level ``Transformer``."""

    class Transformer:
        instance: Any = None

        def configure(self, config: List[Tuple[str, str]]) -> None:
            try:
                Transformer.instance = transform_class(Config(config))
            except Exception as e:  # the host shows the message and stops
                raise Err(str(e) or type(e).__name__) from None

        def process(self, records: Any) -> List[Any]:
            transform = Transformer.instance
            outcomes = []
            for index in range(records.len()):
                try:
                    outcome = transform.apply(Record(records, index))
                except Exception as e:
                    outcome = Fail(f"{type(e).__name__}: {e}")
                outcomes.append(KEEP if outcome is None else outcome)
            return outcomes

    Transformer.__name__ = "Transformer"
    return Transformer
