/*
 * cmd_users.c - `cloister users create|list`: cloisterd's user accounts (admin only on the
 * server side; the CLI lets the server say no).
 *
 * create sends {"username","password","role"} to POST /users with the password read like
 * login's (a file, the terminal without echo and asked twice, or one line of stdin: never
 * argv) and wiped once the body is sent; it prints the new user's id (from Location, else
 * from the reply's "id"). list prints a table through cp_reply.c, or the reply with --json.
 */
#include "cli/cli.h"

#include "cli/client.h"
#include "cli/cp_reply.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static const char users_help[] =
	"Usage: cloister users [options] <command> [args]\n"
	"\n"
	"Options (before or after the command):\n"
	"  --server URL        cloisterd's URL (env CLOISTER_SERVER; default: the session's)\n"
	"  --cacert FILE       trust the CA certificates in FILE (PEM) for https\n"
	"  --timeout SECONDS   limit for each request (default 60, 0 = none)\n"
	"  --json              print the server's JSON replies\n"
	"\n"
	"Commands (an admin's):\n"
	"  create --username USER [--role user|admin] [--password-file FILE]\n"
	"                                create a user; prints its id\n"
	"  list [--limit 1..1000] [--offset N]\n"
	"                                a table of users\n";

enum { OPT_USERNAME = 1, OPT_ROLE, OPT_PWFILE, OPT_LIMIT, OPT_OFFSET };

/* ---------------------------------------------------------------- create */

struct create_args {
	const char *username, *role, *pwfile;
};

static int create_opt(int opt, const char *arg, void *ud, const char *help)
{
	struct create_args *a = ud;
	if (opt == OPT_USERNAME) {
		a->username = arg;
	} else if (opt == OPT_ROLE) {
		if (strcmp(arg, "user") != 0 && strcmp(arg, "admin") != 0)
			return cli_usage_error(help, "--role is user or admin, not '%s'", arg);
		a->role = arg;
	} else {
		a->pwfile = arg;
	}
	return 0;
}

static const char create_help[] =
	"Usage: cloister users create --username USER [--role user|admin]\n"
	"                             [--password-file FILE]\n"
	"\n"
	"Creates a user (POST /users; admins only) and prints its id. USER is 1 to 64 of\n"
	"A-Z a-z 0-9 . _ @ -; the role is user unless given. The password (8 to 1024 bytes) is\n"
	"the first line of FILE, else typed twice on the terminal, else one line of stdin.\n";

/* The request body, or NULL (after printing why). The password is wiped from it by the
 * caller. */
static char *create_body(const struct create_args *a, const char *pw, size_t pwlen, size_t *len)
{
	json_t *o = json_object();
	json_t *u = json_string(a->username), *p = json_stringn(pw, pwlen);
	json_t *r = json_string(a->role ? a->role : "user");
	bool ok = o && u && p && r;
	if (ok)
		ok = json_object_set(o, "username", u) == 0 &&
		     json_object_set(o, "password", p) == 0 && json_object_set(o, "role", r) == 0;
	json_decref(u);
	json_decref(p);
	json_decref(r);
	char *s = NULL;
	*len = 0;
	if (ok) {
		*len = json_dumpb(o, NULL, 0, JSON_COMPACT);
		s = *len ? malloc(*len) : NULL;
		if (s && json_dumpb(o, s, *len, JSON_COMPACT) != *len) {
			free(s);
			s = NULL;
		}
	}
	json_decref(o);
	if (!s)
		fputs("cloister: the user name and the password must be UTF-8\n", stderr);
	return s;
}

static int users_create(struct cp_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "username", required_argument, NULL, OPT_USERNAME },
		{ "role", required_argument, NULL, OPT_ROLE },
		{ "password-file", required_argument, NULL, OPT_PWFILE },
		{ 0 },
	};
	struct create_args a = { 0 };
	int first;
	int rc = cp_parse_opts(o, argc, argv, lo, create_help, create_opt, &a, 0, &first);
	if (rc >= 0)
		return rc;
	if (!a.username || !a.username[0])
		return cli_usage_error(create_help, "--username is required");
	/* The session first: no point in typing a password without one. */
	struct cp *x;
	rc = cp_open(o, &x);
	if (rc)
		return rc;
	char *pw = NULL;
	size_t pwlen = 0;
	rc = cp_read_password(a.pwfile, true, &pw, &pwlen);
	if (rc) {
		cp_close(x);
		return rc;
	}
	size_t blen;
	char *body = create_body(&a, pw, pwlen, &blen);
	secret_wipe(pw, pwlen);
	free(pw);
	if (!body) {
		cp_close(x);
		return CLI_EXIT_FAIL;
	}
	struct client_req rq = { .method = "POST",
				 .path = "/users",
				 .content_type = "application/json",
				 .body = body,
				 .body_len = blen };
	struct client_resp r;
	rc = cp_send(x, &rq, &r);
	secret_wipe(body, blen);
	free(body);
	if (rc < 0) {
		if (r.status < 200 || r.status >= 300) {
			rc = cp_http_fail(&r);
		} else if (o->json) {
			rc = cp_print_json(x, &r);
		} else {
			char id[CP_UUID_CHARS + 1];
			struct cp_user u = { 0 };
			if (cp_location_id(r.location, "/users/", id) == 0) {
				printf("%s\n", id);
				rc = CLI_EXIT_OK;
			} else if (cp_user_parse(r.body, r.len, &u) == 0) {
				printf("%s\n", u.id);
				rc = CLI_EXIT_OK;
			} else {
				rc = cp_bad_reply(x, "no user id");
			}
			cp_user_done(&u);
		}
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- list */

struct list_args {
	uint64_t limit, offset;
	bool has_limit, has_offset;
};

static int list_opt(int opt, const char *arg, void *ud, const char *help)
{
	struct list_args *a = ud;
	if (opt == OPT_LIMIT) {
		if (util_parse_u64(arg, CP_PAGE_MAX_ITEMS, &a->limit) < 0 || a->limit == 0)
			return cli_usage_error(help, "--limit wants 1 to %d, not '%s'",
					       CP_PAGE_MAX_ITEMS, arg);
		a->has_limit = true;
	} else {
		if (util_parse_u64(arg, 1ull << 53, &a->offset) < 0)
			return cli_usage_error(help, "--offset wants a number, not '%s'", arg);
		a->has_offset = true;
	}
	return 0;
}

static const char list_help[] = "Usage: cloister users list [--limit 1..1000] [--offset N]\n"
				"\n"
				"Lists users (GET /users; admins only): ID USERNAME ROLE DISABLED\n"
				"CREATED_AT, then \"N of TOTAL\".\n";

static int users_list(struct cp_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ 0 },
	};
	struct list_args a = { 0 };
	int first;
	int rc = cp_parse_opts(o, argc, argv, lo, list_help, list_opt, &a, 0, &first);
	if (rc >= 0)
		return rc;
	char path[96];
	size_t n = (size_t)snprintf(path, sizeof(path), "/users");
	if (a.has_limit)
		n += (size_t)snprintf(path + n, sizeof(path) - n, "?limit=%llu",
				      (unsigned long long)a.limit);
	if (a.has_offset)
		snprintf(path + n, sizeof(path) - n, "%coffset=%llu", a.has_limit ? '&' : '?',
			 (unsigned long long)a.offset);
	struct cp *x;
	rc = cp_open(o, &x);
	if (rc)
		return rc;
	struct client_req rq = { .method = "GET", .path = path };
	struct client_resp r;
	rc = cp_send(x, &rq, &r);
	if (rc < 0) {
		if (r.status < 200 || r.status >= 300) {
			rc = cp_http_fail(&r);
		} else if (o->json) {
			rc = cp_print_json(x, &r);
		} else {
			struct cp_user_list l;
			int e = cp_user_list_parse(r.body, r.len, &l);
			if (e == -ENOMEM) {
				rc = cp_oom();
			} else if (e < 0) {
				rc = cp_bad_reply(x, "not a page of users");
			} else {
				struct util_buf b = { 0 };
				if (cp_user_table(&l, &b) < 0) {
					rc = cp_oom();
				} else {
					fwrite(b.p, 1, b.len, stdout);
					rc = CLI_EXIT_OK;
				}
				free(b.p);
			}
			cp_user_list_done(&l);
		}
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- entry */

int cmd_users(int argc, char **argv)
{
	struct cp_opts o;
	cp_opts_init(&o);
	static const struct option lo[] = { CP_GLOBAL_LONGOPTS, { 0 } };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		int rc = cp_opts_handle(&o, opt, optarg, users_help);
		if (rc >= 0)
			return rc;
	}
	if (optind >= argc)
		return cli_usage_error(users_help, "missing command");
	const char *name = argv[optind];
	if (strcmp(name, "create") == 0)
		return users_create(&o, argc - optind, argv + optind);
	if (strcmp(name, "list") == 0)
		return users_list(&o, argc - optind, argv + optind);
	return cli_usage_error(users_help, "unknown users command '%s'", name);
}
