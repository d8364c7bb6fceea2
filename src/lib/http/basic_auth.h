/*
 * http/basic_auth.h - parser for "Authorization: Basic <base64(user:password)>" (RFC 7617).
 *
 * Pure function over untrusted bytes (fuzzed: fuzz/fuzz_basic_auth.c). The scheme name is
 * case-insensitive, the base64 must be canonical standard base64 with padding, the decoded
 * user must not contain ':' (the first ':' splits) and neither part may contain NUL.
 * Limits: HTTP_BASIC_AUTH_MAX_BYTES of header value. Thread-safe, no allocation.
 */
#ifndef CLOISTER_HTTP_BASIC_AUTH_H
#define CLOISTER_HTTP_BASIC_AUTH_H

#include <stddef.h>

#define HTTP_BASIC_AUTH_MAX_BYTES 2048

/* On success returns 0 with user (ucap bytes) and pass (pcap bytes) NUL-terminated and
 * *pass_len set. Returns -EINVAL when malformed, -E2BIG when the value or a part does not fit.
 * The caller wipes pass when done. */
int http_basic_auth_parse(const char *hdr, char *user, size_t ucap, char *pass, size_t pcap,
			  size_t *pass_len);

#endif
