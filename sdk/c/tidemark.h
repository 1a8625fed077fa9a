/*
 * tidemark.h: write Tidemark transform plugins in C. Header only; it sits on the bindings
 * that `wit-bindgen c wit --world transform` generates (transform.h, transform.c and
 * transform_component_type.o), which `tidemark plugin build` makes for you.
 *
 * A transform is a configure function and an apply function, exported with one macro:
 *
 *     #include "tidemark.h"
 *
 *     static char *prefix;
 *
 *     static const char *configure(const tm_config *config) {
 *         prefix = tm_config_string(config, "prefix", "");
 *         return NULL;                       // or a message naming the bad setting
 *     }
 *
 *     static tm_outcome apply(tm_record *record) {
 *         char *topic = tm_topic(record);
 *         ...
 *         free(topic);
 *         return tm_keep();                  // tm_drop(), tm_fail("why")
 *     }
 *
 *     TIDEMARK_TRANSFORM(configure, apply)
 *
 * Records stay in the host: a plugin reads and writes only the fields it asks for, by dotted
 * path ("after.email"). Strings the helpers return are NUL-terminated copies the caller
 * frees with free(); strings passed in are only read. The generated functions
 * (tidemark_plugin_records_method_batch_*) remain available for everything else, e.g. whole
 * values, schemas, or emitting new records.
 */
#ifndef TIDEMARK_H
#define TIDEMARK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "transform.h"

typedef tidemark_plugin_records_borrow_batch_t tm_batch;
typedef tidemark_plugin_types_part_t tm_part;
typedef exports_tidemark_plugin_transformer_outcome_t tm_outcome;
typedef tidemark_plugin_types_value_node_t tm_value_node;

#define TM_KEY TIDEMARK_PLUGIN_TYPES_PART_KEY
#define TM_VALUE TIDEMARK_PLUGIN_TYPES_PART_VALUE

/* One record of the batch being processed. */
typedef struct {
    tm_batch batch;
    uint32_t index;
} tm_record;

/* The transforms.<name>.* properties the plugin was configured with, without the prefix. */
typedef struct {
    const transform_list_tuple2_string_string_t *entries;
} tm_config;

/* A borrowed view of a C string, for passing to the host. */
static inline transform_string_t tm_str(const char *s) {
    transform_string_t out = {(uint8_t *)s, strlen(s)};
    return out;
}

/* A NUL-terminated copy of a host string (free it). */
static inline char *tm_cstr(const transform_string_t *s) {
    char *out = (char *)malloc(s->len + 1);
    if (out == NULL) abort();
    memcpy(out, s->ptr, s->len);
    out[s->len] = '\0';
    return out;
}

/* ---- configuration ---- */

/* The last value given for `key`, or NULL. The pointer is into the configuration (valid
 * during configure) and not NUL-terminated: use tm_config_string for a C string. */
static inline const transform_string_t *tm_config_get(const tm_config *config, const char *key) {
    size_t key_len = strlen(key);
    for (size_t i = config->entries->len; i > 0; i--) {
        const transform_tuple2_string_string_t *entry = &config->entries->ptr[i - 1];
        if (entry->f0.len == key_len && memcmp(entry->f0.ptr, key, key_len) == 0) return &entry->f1;
    }
    return NULL;
}

/* A copy of the setting, or of `fallback` (NULL when both are missing); free it. */
static inline char *tm_config_string(const tm_config *config, const char *key, const char *fallback) {
    const transform_string_t *value = tm_config_get(config, key);
    if (value != NULL) return tm_cstr(value);
    return fallback == NULL ? NULL : strdup(fallback);
}

/* ---- records ---- */

static inline void tm_drop_error(tidemark_plugin_records_access_error_t *err) {
    tidemark_plugin_records_access_error_free(err);
}

/* The record's topic (free it), or NULL. */
static inline char *tm_topic(const tm_record *r) {
    transform_string_t topic;
    tidemark_plugin_records_access_error_t err;
    if (!tidemark_plugin_records_method_batch_topic(r->batch, r->index, &topic, &err)) {
        tm_drop_error(&err);
        return NULL;
    }
    char *out = tm_cstr(&topic);
    transform_string_free(&topic);
    return out;
}

/* Renames the record's topic. */
static inline bool tm_set_topic(const tm_record *r, const char *topic) {
    transform_string_t t = tm_str(topic);
    tidemark_plugin_records_access_error_t err;
    if (tidemark_plugin_records_method_batch_set_topic(r->batch, r->index, &t, &err)) return true;
    tm_drop_error(&err);
    return false;
}

/* True when the record's value is null. */
static inline bool tm_is_tombstone(const tm_record *r) {
    bool tombstone = false;
    tidemark_plugin_records_access_error_t err;
    if (!tidemark_plugin_records_method_batch_is_tombstone(r->batch, r->index, &tombstone, &err)) {
        tm_drop_error(&err);
        return false;
    }
    return tombstone;
}

/* The string at a dotted path of the key or value (free it); NULL when the path does not
 * exist, the value is null, or it is not a string. */
static inline char *tm_get_string(const tm_record *r, tm_part part, const char *path) {
    transform_string_t p = tm_str(path);
    tidemark_plugin_records_option_data_t found;
    tidemark_plugin_records_access_error_t err;
    if (!tidemark_plugin_records_method_batch_get(r->batch, r->index, part, &p, &found, &err)) {
        tm_drop_error(&err);
        return NULL;
    }
    char *out = NULL;
    if (found.is_some && found.val.len > 0 &&
        found.val.ptr[0].tag == TIDEMARK_PLUGIN_TYPES_VALUE_NODE_STRING) {
        out = tm_cstr(&found.val.ptr[0].val.string);
    }
    tidemark_plugin_records_option_data_free(&found);
    return out;
}

/* Sets a string field at a dotted path; false when the path does not exist or the field is
 * not a string. */
static inline bool tm_set_string(const tm_record *r, tm_part part, const char *path, const char *value) {
    transform_string_t p = tm_str(path);
    tm_value_node node;
    node.tag = TIDEMARK_PLUGIN_TYPES_VALUE_NODE_STRING;
    node.val.string = tm_str(value);
    tidemark_plugin_records_data_t data = {&node, 1};
    tidemark_plugin_records_access_error_t err;
    if (tidemark_plugin_records_method_batch_set(r->batch, r->index, part, &p, &data, &err)) return true;
    tm_drop_error(&err);
    return false;
}

/* Appends a header; `value` may be NULL (a null header value). */
static inline bool tm_add_header(const tm_record *r, const char *key, const char *value) {
    tidemark_plugin_records_list_header_t headers;
    tidemark_plugin_records_access_error_t err;
    if (!tidemark_plugin_records_method_batch_headers(r->batch, r->index, &headers, &err)) {
        tm_drop_error(&err);
        return false;
    }
    tidemark_plugin_records_header_t *grown = (tidemark_plugin_records_header_t *)realloc(
        headers.ptr, (headers.len + 1) * sizeof(tidemark_plugin_records_header_t));
    if (grown == NULL) abort();
    headers.ptr = grown;
    tidemark_plugin_records_header_t *h = &headers.ptr[headers.len++];
    transform_string_dup(&h->key, key);
    h->value.is_some = value != NULL;
    if (value != NULL) transform_string_dup(&h->value.val, value);
    bool ok = tidemark_plugin_records_method_batch_set_headers(r->batch, r->index, &headers, &err);
    if (!ok) tm_drop_error(&err);
    tidemark_plugin_records_list_header_free(&headers);
    return ok;
}

/* ---- outcomes ---- */

/* Pass the record on, with any edits. */
static inline tm_outcome tm_keep(void) {
    tm_outcome o;
    o.tag = EXPORTS_TIDEMARK_PLUGIN_TRANSFORMER_OUTCOME_KEEP;
    return o;
}

/* Remove the record. */
static inline tm_outcome tm_drop(void) {
    tm_outcome o;
    o.tag = EXPORTS_TIDEMARK_PLUGIN_TRANSFORMER_OUTCOME_DROP;
    return o;
}

/* The record cannot be transformed: the host applies errors.tolerance. */
static inline tm_outcome tm_fail(const char *reason) {
    tm_outcome o;
    o.tag = EXPORTS_TIDEMARK_PLUGIN_TRANSFORMER_OUTCOME_FAIL;
    transform_string_dup(&o.val.fail, reason);
    return o;
}

/* ---- the host's log ---- */

#define TM_LOG_DEBUG TIDEMARK_PLUGIN_HOST_LEVEL_DEBUG
#define TM_LOG_INFO TIDEMARK_PLUGIN_HOST_LEVEL_INFO
#define TM_LOG_WARN TIDEMARK_PLUGIN_HOST_LEVEL_WARN
#define TM_LOG_ERROR TIDEMARK_PLUGIN_HOST_LEVEL_ERROR

static inline void tm_log(tidemark_plugin_host_level_t level, const char *message) {
    transform_string_t m = tm_str(message);
    tidemark_plugin_host_log(level, &m);
}

/* ---- export ---- */

/* Exports `configure` (const char *(const tm_config *): NULL, or an error message naming
 * the setting) and `apply` (tm_outcome (tm_record *)) as tidemark:plugin/transformer. */
#define TIDEMARK_TRANSFORM(CONFIGURE, APPLY)                                                    \
    bool exports_tidemark_plugin_transformer_configure(                                         \
        transform_list_tuple2_string_string_t *config, transform_string_t *err) {              \
        tm_config c = {config};                                                                 \
        const char *message = CONFIGURE(&c);                                                    \
        transform_list_tuple2_string_string_free(config);                                       \
        if (message != NULL) {                                                                  \
            transform_string_dup(err, message);                                                 \
            return false;                                                                       \
        }                                                                                       \
        return true;                                                                            \
    }                                                                                           \
    void exports_tidemark_plugin_transformer_process(                                           \
        exports_tidemark_plugin_transformer_borrow_batch_t records,                             \
        exports_tidemark_plugin_transformer_list_outcome_t *ret) {                              \
        uint32_t n = tidemark_plugin_records_method_batch_len(records);                         \
        ret->len = n;                                                                           \
        ret->ptr = n == 0 ? NULL : (tm_outcome *)malloc(n * sizeof(tm_outcome));                \
        if (n > 0 && ret->ptr == NULL) abort();                                                 \
        for (uint32_t i = 0; i < n; i++) {                                                      \
            tm_record record = {records, i};                                                    \
            ret->ptr[i] = APPLY(&record);                                                       \
        }                                                                                       \
        /* The component model requires a borrowed handle to be released before returning. */ \
        tidemark_plugin_records_batch_drop_borrow(records);                                     \
    }

#endif /* TIDEMARK_H */
