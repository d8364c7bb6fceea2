/*
 * validate.h - cloisterd's parsers of untrusted request input: the JSON bodies of the users,
 * tokens and backends routes, path ids and list queries. Pure functions of the bytes received
 * (no store, no globals), so fuzz/fuzz_api_body.c runs them directly.
 *
 * Return convention: VALID_OK (0), VALID_MALFORMED (400: not JSON, a duplicate key, an unknown
 * key, a wrong type) or VALID_INVALID (422: a value out of range or not allowed), with a message
 * naming the field in err ("address: port must be 1..65535"). On failure the output struct is
 * left zeroed. Bodies are parsed with json_parse_strict; the caller has already bounded the size.
 * Limits are store.h's (names, descriptions, addresses, usernames) and the ones below.
 * Thread-safe; nothing allocated is returned except where said.
 */
#ifndef CLOISTER_SERVER_VALIDATE_H
#define CLOISTER_SERVER_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/store.h"

#define VALID_OK 0
#define VALID_MALFORMED (-1)
#define VALID_INVALID (-2)

#define VALID_PASSWORD_MIN_BYTES 8
#define VALID_PASSWORD_MAX_BYTES 1024
#define VALID_REASON_MAX_BYTES 256
#define VALID_LIST_LIMIT_MAX STORE_LIST_MAX
#define VALID_OFFSET_MAX (UINT64_C(1) << 53)

struct backend_input {
	char name[STORE_NAME_MAX + 1];
	char description[STORE_DESCRIPTION_MAX + 1];
	char address[STORE_ADDRESS_MAX + 1];
};

struct user_input { /* POST /users: ours or SuperMQ's shape */
	char username[STORE_USERNAME_MAX + 1];
	char password[VALID_PASSWORD_MAX_BYTES + 1]; /* the caller wipes it */
	char role[STORE_ROLE_MAX + 1];               /* "user" when absent */
};

struct user_patch { /* PATCH /users/{id}: absent fields keep their value */
	bool has_role, has_disabled, has_password;
	char role[STORE_ROLE_MAX + 1];
	bool disabled;
	char password[VALID_PASSWORD_MAX_BYTES + 1]; /* the caller wipes it */
};

struct login_input { /* POST /users/tokens/issue */
	char username[STORE_USERNAME_MAX + 1];
	char password[VALID_PASSWORD_MAX_BYTES + 1]; /* the caller wipes it */
};

struct terminate_input { /* POST /backends/{id}/terminate */
	int type;        /* 0 certificate revocation, 1 user initiated */
	char reason[VALID_REASON_MAX_BYTES + 1];
};

struct list_query {
	unsigned limit; /* default SERVER_LIST_DEFAULT_LIMIT (10) when absent */
	uint64_t offset;
};

int validate_backend_body(const char *body, size_t len, struct backend_input *out, char *err,
			  size_t errlen);
int validate_user_body(const char *body, size_t len, struct user_input *out, char *err,
		       size_t errlen);
int validate_user_patch(const char *body, size_t len, struct user_patch *out, char *err,
			size_t errlen);
/* Accepts {"username","password"} and SuperMQ's {"identity","secret"}. */
int validate_login_body(const char *body, size_t len, struct login_input *out, char *err,
			size_t errlen);
int validate_terminate_body(const char *body, size_t len, struct terminate_input *out, char *err,
			    size_t errlen);
/* Termination type from the GET path segment: "0" or "1". */
int validate_terminate_type(const char *s, int *type, char *err, size_t errlen);

/* Field checks (the rules are in the brief / docs/control-plane-api.md). */
int validate_name(const char *s, size_t len, char *err, size_t errlen);
int validate_description(const char *s, size_t len, char *err, size_t errlen);
int validate_address(const char *s, size_t len, char *err, size_t errlen);
int validate_username(const char *s, size_t len, char *err, size_t errlen);
int validate_password(const char *s, size_t len, char *err, size_t errlen);
/* UUID text (36 chars, hex either case) copied lower-cased into out; false when malformed. */
bool validate_uuid(const char *s, char out[STORE_ID_BUF]);
/* limit/offset query values (NULL = absent), default_limit when limit is absent. */
int validate_list_query(const char *limit, const char *offset, unsigned default_limit,
			struct list_query *out, char *err, size_t errlen);

#endif
