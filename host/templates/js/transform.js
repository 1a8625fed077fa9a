// {{name}}: a Tidemark transform. It adds a header (setting `header`, default
// `processed-by`) naming this plugin to every record; replace `apply` with your own logic.
//
// Build: `tidemark plugin build`. Try: `tidemark plugin test build/{{name}}.wasm --input records.jsonl`

import { Transform, KEEP, exportTransform } from "./sdk/js/tidemark.js";

class Plugin extends Transform {
  constructor(config) {
    super(config);
    this.header = config.get("header", "processed-by");
  }

  apply(record) {
    record.addHeader(this.header, "{{name}}");
    return KEEP;
  }
}

export const transformer = exportTransform(Plugin);
