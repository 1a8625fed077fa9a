// {{name}}: a Tidemark sink. It logs how many records each batch has; replace `write` and
// `flush` with delivery to your destination. Throw `{ tag: "retriable", val: message }` for a
// passing fault (the host retries the batch after a backoff) and `{ tag: "fatal", val: message }`
// for a permanent one (the host stops the connector).
//
// Build: `tidemark plugin build`. Use: `sink.type=wasm`, `sink.plugin=build/{{name}}.wasm`,
// settings as `sink.config.<key>`.

import { log } from "./sdk/js/tidemark.js";

export const destination = {
  configure(_config) {},
  write(records) {
    log("info", `{{name}} received ${records.len()} records`);
  },
  flush() {},
};
