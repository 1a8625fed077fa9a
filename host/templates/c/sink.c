/*
 * {{name}}: a Tidemark sink. It logs how many records each batch has; replace `write` and
 * `flush` with delivery to your destination. Fail a call with a retriable error for a passing
 * fault (the host retries the batch after a backoff) and a fatal one for a permanent fault
 * (the host stops the connector).
 *
 * Build: `tidemark plugin build`. Use: `sink.type=wasm`, `sink.plugin=build/{{name}}.wasm`,
 * settings as `sink.config.<key>`.
 */
#include <stdio.h>
#include <string.h>

#include "sink.h"

bool exports_tidemark_plugin_destination_configure(sink_list_tuple2_string_string_t *config,
                                                   sink_string_t *err) {
    (void)err;
    sink_list_tuple2_string_string_free(config);
    return true;
}

bool exports_tidemark_plugin_destination_write(
    exports_tidemark_plugin_destination_borrow_batch_t records,
    exports_tidemark_plugin_destination_sink_error_t *err) {
    (void)err; /* e.g. err->tag = EXPORTS_TIDEMARK_PLUGIN_DESTINATION_SINK_ERROR_RETRIABLE;
                  sink_string_dup(&err->val.retriable, "why"); return false; */
    char line[96];
    snprintf(line, sizeof line, "{{name}} received %u records",
             (unsigned)tidemark_plugin_records_method_batch_len(records));
    sink_string_t message = {(uint8_t *)line, strlen(line)};
    tidemark_plugin_host_log(TIDEMARK_PLUGIN_HOST_LEVEL_INFO, &message);
    /* A borrowed handle must be released before returning. */
    tidemark_plugin_records_batch_drop_borrow(records);
    return true;
}

bool exports_tidemark_plugin_destination_flush(
    exports_tidemark_plugin_destination_sink_error_t *err) {
    (void)err;
    return true;
}
