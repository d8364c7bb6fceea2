/*
 * json.h - helpers over jansson shared by the programs.
 *
 * jansson refuses strings that are not valid UTF-8, but command output and file names are bytes:
 * json_string_lossy makes a JSON string from any bytes, replacing each invalid sequence with
 * U+FFFD, so one bad byte from a child process never turns a reply into a 500.
 * Parsing of untrusted JSON always goes through json_parse_strict (duplicate keys refused,
 * a size limit, nothing after the value).
 * Thread-safe; results are new references the caller owns (json_decref).
 */
#ifndef CLOISTER_JSON_H
#define CLOISTER_JSON_H

#include <jansson.h>
#include <stddef.h>

#define JSON_BODY_MAX_BYTES (1u << 20)

/* New string reference from arbitrary bytes (invalid UTF-8 replaced); NULL on ENOMEM. */
json_t *json_string_lossy(const char *s, size_t len);
/* Copies s into out (cap bytes), replacing invalid UTF-8 with U+FFFD; returns the length
 * written (always NUL-terminated; stops early rather than cut a sequence). */
size_t json_utf8_lossy(const char *s, size_t len, char *out, size_t cap);
/* Parses a JSON document of at most JSON_BODY_MAX_BYTES with JSON_REJECT_DUPLICATES. NULL on
 * error with err (jansson's message) filled. */
json_t *json_parse_strict(const char *buf, size_t len, json_error_t *err);

#endif
