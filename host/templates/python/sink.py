"""{{name}}: a Tidemark sink. It logs how many records each batch has; replace ``write``
and ``flush`` with delivery to your destination. Raise ``Err(SinkError_Retriable(msg))`` for
a passing fault (the host retries the batch after a backoff) and ``Err(SinkError_Fatal(msg))``
for a permanent one (the host stops the connector).

Build: ``tidemark plugin build``. Use: ``sink.type=wasm``, ``sink.plugin=build/{{name}}.wasm``,
settings as ``sink.config.<key>``.
"""

from typing import List, Tuple

from componentize_py_types import Err  # noqa: F401 (raise Err(...) to fail a call)
from wit_world.exports.destination import SinkError_Fatal, SinkError_Retriable  # noqa: F401
from wit_world.imports import host


class Destination:
    def configure(self, config: List[Tuple[str, str]]) -> None:
        pass

    def write(self, records) -> None:
        host.log(host.Level.INFO, f"{{name}} received {records.len()} records")

    def flush(self) -> None:
        pass
