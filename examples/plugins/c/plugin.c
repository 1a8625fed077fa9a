/*
 * Masks an email column and routes deletes to an audit topic (the same job as
 * examples/plugins/rust, python and js).
 *
 * Settings: `field` (default `email`), `mask` (default `***`), `audit.topic` (default
 * `audit.deletes`). In `before` and `after`, the part of the column before the `@` becomes
 * the mask (`alice@example.com` -> `***@example.com`; a value without `@` becomes the mask).
 * A delete (`op = d`) goes to the audit topic with a header `tidemark.audit.source` naming
 * its original topic. Tombstones pass unchanged.
 */
#include <stdio.h>

#include "tidemark.h"

static char *field;
static char *mask;
static char *audit_topic;

static const char *configure(const tm_config *config) {
    free(field);
    free(mask);
    free(audit_topic);
    field = tm_config_string(config, "field", "email");
    mask = tm_config_string(config, "mask", "***");
    audit_topic = tm_config_string(config, "audit.topic", "audit.deletes");
    if (field[0] == '\0' || audit_topic[0] == '\0') {
        return "settings 'field' and 'audit.topic' must not be empty";
    }
    return NULL;
}

/* The masked form of `text` (free it). */
static char *masked(const char *text) {
    const char *at = strchr(text, '@');
    size_t rest = at == NULL ? 0 : strlen(at);
    char *out = malloc(strlen(mask) + rest + 1);
    if (out == NULL) abort();
    strcpy(out, mask);
    if (at != NULL) strcat(out, at);
    return out;
}

static tm_outcome apply(tm_record *record) {
    if (tm_is_tombstone(record)) return tm_keep();
    static const char *sides[] = {"before", "after"};
    for (int s = 0; s < 2; s++) {
        size_t len = strlen(sides[s]) + strlen(field) + 2;
        char *path = malloc(len);
        if (path == NULL) abort();
        snprintf(path, len, "%s.%s", sides[s], field);
        char *value = tm_get_string(record, TM_VALUE, path);
        if (value != NULL) {
            char *replacement = masked(value);
            tm_set_string(record, TM_VALUE, path, replacement);
            free(replacement);
            free(value);
        }
        free(path);
    }
    char *op = tm_get_string(record, TM_VALUE, "op");
    if (op != NULL && strcmp(op, "d") == 0) {
        char *topic = tm_topic(record);
        tm_add_header(record, "tidemark.audit.source", topic);
        tm_set_topic(record, audit_topic);
        free(topic);
    }
    free(op);
    return tm_keep();
}

TIDEMARK_TRANSFORM(configure, apply)
