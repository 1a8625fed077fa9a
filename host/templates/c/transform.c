/*
 * {{name}}: a Tidemark transform. It adds a header (setting `header`, default
 * `processed-by`) naming this plugin to every record; replace `apply` with your own logic.
 *
 * Build: `tidemark plugin build`. Try: `tidemark plugin test build/{{name}}.wasm --input records.jsonl`
 */
#include "tidemark.h"

static char *header;

static const char *configure(const tm_config *config) {
    free(header);
    header = tm_config_string(config, "header", "processed-by");
    return NULL; /* or a message naming the bad setting */
}

static tm_outcome apply(tm_record *record) {
    tm_add_header(record, header, "{{name}}");
    return tm_keep(); /* or tm_drop(), tm_fail("why") */
}

TIDEMARK_TRANSFORM(configure, apply)
