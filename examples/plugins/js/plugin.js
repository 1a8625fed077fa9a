// Masks an email column and routes deletes to an audit topic (the same job as
// examples/plugins/rust, python and c).
//
// Settings: `field` (default `email`), `mask` (default `***`), `audit.topic` (default
// `audit.deletes`). In `before` and `after`, the part of the column before the `@` becomes
// the mask (`alice@example.com` -> `***@example.com`; a value without `@` becomes the mask).
// A delete (`op = d`) goes to the audit topic with a header `tidemark.audit.source` naming
// its original topic. Tombstones pass unchanged.

import { Transform, KEEP, exportTransform } from "../../../sdk/js/tidemark.js";

function masked(text, mask) {
  const at = text.indexOf("@");
  return at < 0 ? mask : mask + text.slice(at);
}

class MaskEmail extends Transform {
  constructor(config) {
    super(config);
    this.field = config.get("field", "email");
    this.mask = config.get("mask", "***");
    this.auditTopic = config.get("audit.topic", "audit.deletes");
    if (!this.field || !this.auditTopic) {
      throw new Error("settings 'field' and 'audit.topic' must not be empty");
    }
  }

  apply(record) {
    if (record.isTombstone()) return KEEP;
    for (const side of ["before", "after"]) {
      const path = `${side}.${this.field}`;
      const value = record.valueField(path);
      if (typeof value === "string") record.setValueField(path, masked(value, this.mask));
    }
    if (record.valueField("op") === "d") {
      record.addHeader("tidemark.audit.source", record.topic());
      record.setTopic(this.auditTopic);
    }
    return KEEP;
  }
}

export const transformer = exportTransform(MaskEmail);
