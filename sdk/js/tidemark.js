// Write Tidemark transform plugins in JavaScript (built with componentize-js).
//
// A transform is a class with `constructor(config)` and `apply(record)`, exported with one
// line:
//
//     import { Transform, KEEP, exportTransform } from "./sdk/js/tidemark.js";
//
//     class Upper extends Transform {
//       constructor(config) { super(config); this.prefix = config.get("prefix", ""); }
//       apply(record) { record.setTopic(this.prefix + record.topic().toUpperCase()); return KEEP; }
//     }
//
//     export const transformer = exportTransform(Upper);
//
// Records stay in the host: a plugin reads and writes only the fields it asks for, by dotted
// path (`after.email`). The names mirror the Rust SDK (`tidemark-sdk`), in camelCase.

import { log as hostLog } from "tidemark:plugin/host@0.1.0";

export const KEY = "key";
export const VALUE = "value";

/** Writes a line to the host's log ("trace" | "debug" | "info" | "warn" | "error"). */
export function log(level, message) {
  hostLog(level, String(message));
}

// ---------------------------------------------------------------------------------------
// Values. Reads give plain JavaScript: null, booleans, numbers (int8/16/32, float32/64),
// BigInt (int64), strings, Uint8Array (bytes), arrays, Map (maps) and Struct (a struct's
// field values in schema order). Writes take the same; a plain number is a float64 and a
// BigInt an int64 unless wrapped by int8/int16/int32/float32 below.

/** A struct value: its field values in the order of the struct schema's fields. */
export class Struct extends Array {}

class Typed {
  constructor(tag, val) {
    this.tag = tag;
    this.val = val;
  }
}

export const int8 = (n) => new Typed("int8", n);
export const int16 = (n) => new Typed("int16", n);
export const int32 = (n) => new Typed("int32", n);
export const int64 = (n) => new Typed("int64", BigInt(n));
export const float32 = (n) => new Typed("float32", n);
export const float64 = (n) => new Typed("float64", n);

function toNodes(value) {
  const nodes = [];
  push(value, nodes);
  return nodes;
}

function push(value, nodes) {
  const index = nodes.length;
  nodes.push(null);
  let node;
  if (value === null || value === undefined) node = { tag: "null" };
  else if (value instanceof Typed) node = { tag: value.tag, val: value.val };
  else if (typeof value === "boolean") node = { tag: "boolean", val: value };
  else if (typeof value === "bigint") node = { tag: "int64", val: value };
  else if (typeof value === "number") node = { tag: "float64", val: value };
  else if (typeof value === "string") node = { tag: "string", val: value };
  else if (value instanceof Uint8Array) node = { tag: "bytes", val: value };
  else if (value instanceof Struct) node = { tag: "struct", val: value.map((v) => push(v, nodes)) };
  else if (Array.isArray(value)) node = { tag: "array", val: value.map((v) => push(v, nodes)) };
  else if (value instanceof Map) {
    node = { tag: "map", val: [...value].map(([k, v]) => [push(k, nodes), push(v, nodes)]) };
  } else throw new TypeError(`cannot send ${typeof value} to the host as a Connect value`);
  nodes[index] = node;
  return index;
}

function fromNodes(nodes, index = 0) {
  const node = nodes[index];
  switch (node.tag) {
    case "null":
      return null;
    case "array":
      return node.val.map((i) => fromNodes(nodes, i));
    case "map":
      return new Map(node.val.map(([k, v]) => [fromNodes(nodes, k), fromNodes(nodes, v)]));
    case "struct":
      return Struct.from(node.val.map((i) => fromNodes(nodes, i)));
    default:
      return node.val;
  }
}

// ---------------------------------------------------------------------------------------
// Schemas: plain objects `{type, optional, name, version, doc, parameters, default, fields,
// keys, values}` with `fields` a list of `[name, schema]`; `type` is a Connect type name
// ("int32", "string", "struct", …).

function schemaToNodes(schema) {
  const nodes = [];
  const pushSchema = (s) => {
    const index = nodes.length;
    nodes.push(null);
    const fields = (s.fields ?? []).map(([name, f]) => ({ name, schema: pushSchema(f) }));
    const keySchema = s.keys ? pushSchema(s.keys) : undefined;
    const valueSchema = s.values ? pushSchema(s.values) : undefined;
    nodes[index] = {
      type: s.type,
      optional: !!s.optional,
      name: s.name ?? undefined,
      version: s.version ?? undefined,
      doc: s.doc ?? undefined,
      parameters: s.parameters ?? [],
      defaultValue: s.default === undefined || s.default === null ? undefined : toNodes(s.default),
      fields,
      keySchema,
      valueSchema,
    };
    return index;
  };
  pushSchema(schema);
  return nodes;
}

function schemaFromNodes(nodes, index = 0) {
  const n = nodes[index];
  return {
    type: n.type,
    optional: n.optional,
    name: n.name ?? null,
    version: n.version ?? null,
    doc: n.doc ?? null,
    parameters: n.parameters,
    default: n.defaultValue === undefined ? null : fromNodes(n.defaultValue),
    fields: n.fields.map((f) => [f.name, schemaFromNodes(nodes, f.schema)]),
    keys: n.keySchema === undefined ? null : schemaFromNodes(nodes, n.keySchema),
    values: n.valueSchema === undefined ? null : schemaFromNodes(nodes, n.valueSchema),
  };
}

// ---------------------------------------------------------------------------------------
// Outcomes.

/** Pass the record on, with any edits (returning nothing from `apply` means the same). */
export const KEEP = Object.freeze({ tag: "keep" });
/** Remove the record. */
export const DROP = Object.freeze({ tag: "drop" });
/** In an `emit` list: the input record itself, with its edits. */
export const CURRENT = Object.freeze({ current: true });

/** Replace the record by these, in order: `CURRENT` and/or new records
 * `{topic, key, value, headers, timestamp}` whose key and value are `{value, schema}`
 * (`value: null` is a tombstone). */
export function emit(items) {
  return {
    tag: "emit",
    val: items.map((item) =>
      item === CURRENT ? { tag: "current" } : { tag: "created", val: recordToWit(item) },
    ),
  };
}

/** The record cannot be transformed: the host applies `errors.tolerance`. */
export function fail(reason) {
  return { tag: "fail", val: String(reason) };
}

function dataToWit(data) {
  if (data === null || data === undefined) return undefined;
  return { schema: data.schema ? schemaToNodes(data.schema) : undefined, data: toNodes(data.value) };
}

function recordToWit(r) {
  return {
    topic: r.topic,
    key: dataToWit(r.key),
    value: dataToWit(r.value),
    headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value ?? undefined })),
    timestamp: r.timestamp === null || r.timestamp === undefined ? undefined : BigInt(r.timestamp),
  };
}

/** The host refused an accessor call; `kind` is "no-such-record", "no-such-field" or
 * "type-mismatch". */
export class AccessError extends Error {
  constructor(kind, detail) {
    super(`${kind}: ${detail}`);
    this.kind = kind;
  }
}

function call(fn) {
  try {
    return fn();
  } catch (e) {
    const p = e && e.payload;
    if (p && p.tag) throw new AccessError(p.tag, p.val);
    throw e;
  }
}

const header = (h) => ({ key: h.key, value: h.value ?? null });

/** One record of the batch being processed; reads and edits go to the host. */
export class Record {
  constructor(batch, index) {
    this.batch = batch;
    this.index = index;
  }
  topic() {
    return call(() => this.batch.topic(this.index));
  }
  setTopic(topic) {
    call(() => this.batch.setTopic(this.index, topic));
  }
  /** Milliseconds since the Unix epoch (a number), or null. */
  timestamp() {
    const t = call(() => this.batch.timestamp(this.index));
    return t === undefined ? null : Number(t);
  }
  setTimestamp(ms) {
    call(() => this.batch.setTimestamp(this.index, ms === null ? undefined : BigInt(ms)));
  }
  isTombstone() {
    return call(() => this.batch.isTombstone(this.index));
  }
  headers() {
    return call(() => this.batch.headers(this.index)).map(header);
  }
  /** The last header with this key, or null. */
  header(key) {
    return this.headers().reverse().find((h) => h.key === key) ?? null;
  }
  setHeaders(headers) {
    const wit = headers.map((h) => ({ key: h.key, value: h.value ?? undefined }));
    call(() => this.batch.setHeaders(this.index, wit));
  }
  addHeader(key, value) {
    this.setHeaders([...this.headers(), { key, value }]);
  }
  /** The value at a dotted path of KEY or VALUE (`""` = all of it); null when the part or a
   * struct on the path is null. Throws AccessError for a path that does not exist. */
  get(part, path) {
    const nodes = call(() => this.batch.get(this.index, part, path));
    return nodes === undefined ? null : fromNodes(nodes);
  }
  /** A field of the value by dotted path (`after.email`); null if absent or null. */
  valueField(path) {
    try {
      return this.get(VALUE, path);
    } catch (e) {
      if (e instanceof AccessError) return null;
      throw e;
    }
  }
  /** A field of the key by dotted path; null if absent or null. */
  keyField(path) {
    try {
      return this.get(KEY, path);
    } catch (e) {
      if (e instanceof AccessError) return null;
      throw e;
    }
  }
  /** Sets the value at a dotted path; it must fit the field's schema. */
  set(part, path, value) {
    call(() => this.batch.set(this.index, part, path, toNodes(value)));
  }
  setValueField(path, value) {
    this.set(VALUE, path, value);
  }
  /** The schema at a dotted path; null when schemaless or null. */
  schema(part, path = "") {
    const nodes = call(() => this.batch.schema(this.index, part, path));
    return nodes === undefined ? null : schemaFromNodes(nodes);
  }
  /** An id (BigInt) equal for equal schemas, to cache work per schema; null if none. */
  schemaId(part) {
    return call(() => this.batch.schemaId(this.index, part)) ?? null;
  }
  /** The whole key or value as `{value, schema}`; null when null. */
  data(part) {
    const value = this.get(part, "");
    return value === null ? null : { value, schema: this.schema(part, "") };
  }
  /** Replaces the whole key or value, schema included (null makes it null). */
  replace(part, data) {
    call(() => this.batch.replace(this.index, part, dataToWit(data)));
  }
  /** A tombstone for this record: same topic, key and headers, null value. */
  tombstone() {
    return {
      topic: this.topic(),
      key: this.data(KEY),
      value: null,
      headers: this.headers(),
      timestamp: this.timestamp(),
    };
  }
}

/** The `transforms.<name>.*` properties the plugin was configured with, without the prefix. */
export class Config {
  constructor(entries) {
    this.entries = entries;
  }
  /** A setting's value (the last one given), or `fallback`. */
  get(key, fallback = null) {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i][0] === key) return this.entries[i][1];
    }
    return fallback;
  }
  /** A setting that must be present; the error names it. */
  require(key) {
    const v = this.get(key);
    if (v === null) throw new Error(`missing required setting '${key}'`);
    return v;
  }
  /** A whole-number setting, or `fallback`; the error names it. */
  integer(key, fallback) {
    const v = this.get(key);
    if (v === null) return fallback;
    if (!/^\s*-?\d+\s*$/.test(v)) throw new Error(`setting '${key}' has an invalid value "${v}"`);
    return Number.parseInt(v, 10);
  }
  /** A comma-separated list setting (empty when absent). */
  list(key) {
    return (this.get(key) ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  }
}

/** Base class of a transform: override `constructor(config)` (throw an Error naming the
 * setting for a bad configuration) and `apply(record)`. */
export class Transform {
  constructor(_config) {}
  /** What becomes of one record: KEEP (or nothing), DROP, emit([...]) or fail(reason). An
   * exception fails the record with its message. */
  apply(_record) {
    return KEEP;
  }
}

/** The object to export as `transformer`: `export const transformer = exportTransform(C)`. */
export function exportTransform(TransformClass) {
  let instance = null;
  return {
    configure(entries) {
      try {
        instance = new TransformClass(new Config(entries));
      } catch (e) {
        throw String(e && e.message ? e.message : e);
      }
    },
    process(batch) {
      const n = batch.len();
      const outcomes = new Array(n);
      for (let i = 0; i < n; i++) {
        let outcome;
        try {
          outcome = instance.apply(new Record(batch, i));
        } catch (e) {
          outcome = fail(`${e && e.name ? e.name : "Error"}: ${e && e.message ? e.message : e}`);
        }
        outcomes[i] = outcome ?? KEEP;
      }
      return outcomes;
    },
  };
}
