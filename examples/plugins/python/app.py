"""Masks an email column and routes deletes to an audit topic (the same job as
examples/plugins/rust, js and c).

Settings: ``field`` (default ``email``), ``mask`` (default ``***``), ``audit.topic``
(default ``audit.deletes``). In ``before`` and ``after``, the part of the column before the
``@`` becomes the mask (``alice@example.com`` -> ``***@example.com``; a value without ``@``
becomes the mask). A delete (``op = d``) goes to the audit topic with a header
``tidemark.audit.source`` naming its original topic. Tombstones pass unchanged.
"""

from tidemark_sdk import Config, Record, Transform, KEEP, export


def masked(text: str, mask: str) -> str:
    at = text.find("@")
    return mask if at < 0 else mask + text[at:]


class MaskEmail(Transform):
    def __init__(self, config: Config):
        self.field = config.get("field", "email")
        self.mask = config.get("mask", "***")
        self.audit_topic = config.get("audit.topic", "audit.deletes")
        if not self.field or not self.audit_topic:
            raise ValueError("settings 'field' and 'audit.topic' must not be empty")

    def apply(self, record: Record):
        if record.is_tombstone():
            return KEEP
        for side in ("before", "after"):
            path = f"{side}.{self.field}"
            value = record.value_field(path)
            if isinstance(value, str):
                record.set_value_field(path, masked(value, self.mask))
        if record.value_field("op") == "d":
            record.add_header("tidemark.audit.source", record.topic())
            record.set_topic(self.audit_topic)
        return KEEP


Transformer = export(MaskEmail)
