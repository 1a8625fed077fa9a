"""{{name}}: a Tidemark transform. It adds a header (setting ``header``, default
``processed-by``) naming this plugin to every record; replace ``apply`` with your own logic.

Build: ``tidemark plugin build``. Try: ``tidemark plugin test build/{{name}}.wasm --input records.jsonl``
"""

from tidemark_sdk import Config, Record, Transform, KEEP, export


class Plugin(Transform):
    def __init__(self, config: Config):
        self.header = config.get("header", "processed-by")

    def apply(self, record: Record):
        record.add_header(self.header, "{{name}}")
        return KEEP


Transformer = export(Plugin)
