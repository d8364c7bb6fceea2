/*
 * fuzz_api_body.c - libFuzzer harness for cloisterd's request validators (validate.h). The first
 * byte picks the parser, the rest is its input:
 *   0 backend body, 1 user body, 2 user patch, 3 login body, 4 terminate body,
 *   5 address, 6 list query ("limit" NUL-or-'&' "offset"), 7 the field checks and path ids.
 * Beyond "no crash", it checks what the handlers rely on: an accepted body holds fields that
 * pass their own rule again, and every error message is valid UTF-8 (it goes into a JSON reply).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/validate.h"
#include "util.h"

static void check_err(const char *err, size_t cap)
{
	size_t n = strnlen(err, cap);
	if (n == cap || !util_utf8_valid(err, n))
		__builtin_trap();
}

static void must_ok(int rc)
{
	if (rc != VALID_OK)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	unsigned sel = data[0] % 8;
	const char *in = (const char *)data + 1;
	size_t len = size - 1;
	char err[256] = "";
	char e2[256];
	switch (sel) {
	case 0: {
		struct backend_input b;
		if (validate_backend_body(in, len, &b, err, sizeof(err)) == VALID_OK) {
			must_ok(validate_name(b.name, strlen(b.name), e2, sizeof(e2)));
			must_ok(validate_description(b.description, strlen(b.description), e2,
						     sizeof(e2)));
			must_ok(validate_address(b.address, strlen(b.address), e2, sizeof(e2)));
		}
		break;
	}
	case 1: {
		struct user_input u;
		if (validate_user_body(in, len, &u, err, sizeof(err)) == VALID_OK) {
			must_ok(validate_username(u.username, strlen(u.username), e2, sizeof(e2)));
			must_ok(validate_password(u.password, strlen(u.password), e2, sizeof(e2)));
		}
		break;
	}
	case 2: {
		struct user_patch p;
		if (validate_user_patch(in, len, &p, err, sizeof(err)) == VALID_OK &&
		    p.has_password)
			must_ok(validate_password(p.password, strlen(p.password), e2, sizeof(e2)));
		break;
	}
	case 3: {
		struct login_input l;
		if (validate_login_body(in, len, &l, err, sizeof(err)) == VALID_OK)
			must_ok(validate_username(l.username, strlen(l.username), e2, sizeof(e2)));
		break;
	}
	case 4: {
		struct terminate_input t;
		if (validate_terminate_body(in, len, &t, err, sizeof(err)) == VALID_OK &&
		    t.type != 0 && t.type != 1)
			__builtin_trap();
		break;
	}
	case 5:
		(void)validate_address(in, len, err, sizeof(err));
		break;
	case 6: {
		/* Query values arrive NUL-terminated from the HTTP layer. */
		char *s = malloc(len + 1);
		if (!s)
			return 0;
		memcpy(s, in, len);
		s[len] = '\0';
		char *off = strchr(s, '&');
		if (off)
			*off++ = '\0';
		else if (strlen(s) < len)
			off = s + strlen(s) + 1;
		struct list_query q;
		if (validate_list_query(s[0] == '-' ? NULL : s, off, 10, &q, err, sizeof(err)) ==
			    VALID_OK &&
		    (q.limit < 1 || q.limit > VALID_LIST_LIMIT_MAX || q.offset > VALID_OFFSET_MAX))
			__builtin_trap();
		free(s);
		break;
	}
	default: {
		char *s = malloc(len + 1);
		if (!s)
			return 0;
		memcpy(s, in, len);
		s[len] = '\0';
		(void)validate_name(in, len, err, sizeof(err));
		check_err(err, sizeof(err));
		(void)validate_description(in, len, err, sizeof(err));
		check_err(err, sizeof(err));
		(void)validate_username(in, len, err, sizeof(err));
		check_err(err, sizeof(err));
		(void)validate_password(in, len, err, sizeof(err));
		check_err(err, sizeof(err));
		int type;
		(void)validate_terminate_type(s, &type, err, sizeof(err));
		char id[STORE_ID_BUF];
		if (validate_uuid(s, id) && strlen(id) != STORE_ID_CHARS)
			__builtin_trap();
		free(s);
		break;
	}
	}
	check_err(err, sizeof(err));
	return 0;
}
