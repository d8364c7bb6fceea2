/*
 * cmd_backends.c - `cloister backends ...`: the backends registry of cloisterd (the Prism
 * backends service): create, list, get, update, delete, terminate, and the backend-information
 * (attestation policy) file.
 *
 * Each command parses its own options (the global ones are accepted before or after the
 * command word), checks its arguments before anything touches the network or the session, then
 * sends one request through cp_send (two for update: GET, then PUT of the merged object, so the
 * fields not named keep their values). IDs are checked to be UUIDs here, so that no argument
 * can turn into another path ("..", "/"). Human output comes from cp_reply.c's renderers, which
 * strip control characters; --json prints the server's reply as received once it parses.
 */
#include "cli/cli.h"

#include "cli/client.h"
#include "cli/cp_reply.h"
#include "fsx.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char backends_help[] =
	"Usage: cloister backends [options] <command> [args]\n"
	"\n"
	"Options (before or after the command):\n"
	"  --server URL        cloisterd's URL (env CLOISTER_SERVER; default: the session's)\n"
	"  --cacert FILE       trust the CA certificates in FILE (PEM) for https\n"
	"  --timeout SECONDS   limit for each request (default 60, 0 = none)\n"
	"  --json              print the server's JSON replies\n"
	"\n"
	"Commands:\n"
	"  create --name N --address A [--description D]   register a backend; prints its id\n"
	"  list [--name N] [--status S] [--limit L] [--offset O]\n"
	"                                                  a table of backends\n"
	"  get ID                                          one backend\n"
	"  update ID [--name N] [--address A] [--description D]\n"
	"                                                  change the fields given\n"
	"  delete ID                                       remove a backend\n"
	"  terminate ID [--type 0|1] [--reason R]          terminate (0 = certificate revoked,\n"
	"                                                  1 = user initiated, the default)\n"
	"  info ID [-o FILE]                               print (or save) its information file\n"
	"  info ID --set FILE                              upload its information file\n"
	"\n"
	"Run `cloister login` first. Run `cloister backends <command> --help` for one command.\n";

struct bk_ctx {
	struct cp_opts o;
};

/* ---------------------------------------------------------------- helpers */

static int check_id(const char *id, const char *help)
{
	if (!cp_uuid_valid(id))
		return cli_usage_error(help, "'%s' is not a backend ID (a UUID)", id);
	return 0;
}

/* "/backends/<id><suffix>" into out (IDs are UUIDs: nothing to escape). */
static void id_path(char *out, size_t cap, const char *id, const char *suffix)
{
	snprintf(out, cap, "/backends/%s%s", id, suffix);
}

/* One request with a reply wanted as 2xx; returns -1 with r filled on success, else an exit
 * code (the HTTP error printed). */
static int send_ok(struct cp *x, const struct client_req *rq, struct client_resp *r)
{
	int rc = cp_send(x, rq, r);
	if (rc >= 0)
		return rc;
	if (!client_resp_2xx(r)) {
		rc = cp_http_fail(r);
		client_resp_done(r);
		return rc;
	}
	return -1;
}

/* A request with an optional JSON body and nothing to print but a confirmation (or the reply
 * with --json when there is one). */
static int simple_call_on(struct bk_ctx *k, struct cp *x, const char *method, const char *path,
			  const char *body, const char *verb, const char *id)
{
	int rc;
	struct client_req rq = { .method = method,
				 .path = path,
				 .content_type = body ? "application/json" : NULL,
				 .body = body,
				 .body_len = body ? strlen(body) : 0 };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc < 0) {
		if (k->o.json && r.len > 0)
			rc = cp_print_json(x, &r);
		else if (k->o.json)
			rc = CLI_EXIT_OK;
		else {
			printf("%s %s\n", verb, id);
			rc = CLI_EXIT_OK;
		}
		client_resp_done(&r);
	}
	return rc;
}

static int simple_call(struct bk_ctx *k, const char *method, const char *path, const char *body,
		       const char *verb, const char *id)
{
	struct cp *x;
	int rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	rc = simple_call_on(k, x, method, path, body, verb, id);
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- create */

struct fields {
	const char *name, *address, *description;
};

enum {
	OPT_NAME = 1,
	OPT_ADDRESS,
	OPT_DESCRIPTION,
	OPT_STATUS,
	OPT_LIMIT,
	OPT_OFFSET,
	OPT_TYPE,
	OPT_REASON,
	OPT_SET
};

static int fields_opt(int opt, const char *arg, void *ud, const char *help)
{
	(void)help;
	struct fields *f = ud;
	if (opt == OPT_NAME)
		f->name = arg;
	else if (opt == OPT_ADDRESS)
		f->address = arg;
	else
		f->description = arg;
	return 0;
}

static const struct option field_opts[] = {
	{ "name", required_argument, NULL, OPT_NAME },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "description", required_argument, NULL, OPT_DESCRIPTION },
	{ 0 },
};

/* Compact JSON of the fields given (Prism's order), or NULL after printing why. */
static char *fields_json(const struct fields *f)
{
	json_t *o = json_object();
	bool ok = o != NULL;
	if (ok && f->name)
		ok = json_object_set_new(o, "name", json_string(f->name)) == 0;
	if (ok && f->description)
		ok = json_object_set_new(o, "description", json_string(f->description)) == 0;
	if (ok && f->address)
		ok = json_object_set_new(o, "address", json_string(f->address)) == 0;
	char *s = ok ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!s)
		fputs("cloister: the name, address and description must be UTF-8\n", stderr);
	return s;
}

static const char create_help[] =
	"Usage: cloister backends create --name NAME --address HOST[:PORT] [--description TEXT]\n"
	"\n"
	"Registers a backend (POST /backends) and prints its id. NAME is 1 to 128 bytes;\n"
	"the address is a DNS name, an IPv4 or IPv6 address, optionally with a port.\n";

static int bk_create(struct bk_ctx *k, int argc, char **argv)
{
	struct fields f = { 0 };
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, field_opts, create_help, fields_opt, &f, 0,
			       &first);
	if (rc >= 0)
		return rc;
	if (!f.name || !f.address)
		return cli_usage_error(create_help, "--name and --address are required");
	_cleanup_free_ char *body = fields_json(&f);
	if (!body)
		return CLI_EXIT_FAIL;
	struct cp *x;
	rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	struct client_req rq = { .method = "POST",
				 .path = "/backends",
				 .content_type = "application/json",
				 .body = body,
				 .body_len = strlen(body) };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc < 0) {
		char id[CP_UUID_CHARS + 1];
		if (cp_location_id(r.location, "/backends/", id) < 0) {
			rc = cp_bad_reply(x, "no backend id in Location");
		} else if (k->o.json) {
			printf("{\"id\":\"%s\"}\n", id);
			rc = CLI_EXIT_OK;
		} else {
			printf("%s\n", id);
			rc = CLI_EXIT_OK;
		}
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- list */

struct list_args {
	const char *name, *status;
	uint64_t limit, offset;
	bool has_limit, has_offset;
};

static int list_opt(int opt, const char *arg, void *ud, const char *help)
{
	struct list_args *a = ud;
	switch (opt) {
	case OPT_NAME:
		a->name = arg;
		return 0;
	case OPT_STATUS:
		a->status = arg;
		return 0;
	case OPT_LIMIT:
		if (util_parse_u64(arg, 1000, &a->limit) < 0 || a->limit == 0)
			return cli_usage_error(help, "--limit wants 1 to 1000, not '%s'", arg);
		a->has_limit = true;
		return 0;
	default:
		if (util_parse_u64(arg, (1ull << 53), &a->offset) < 0)
			return cli_usage_error(help, "--offset wants a number, not '%s'", arg);
		a->has_offset = true;
		return 0;
	}
}

/* Appends "&key=<escaped value>" (the first with '?') to b. */
static void add_query(struct util_buf *b, const char *key, const char *v)
{
	_cleanup_free_ char *e = client_escape(v, strlen(v));
	if (!e) {
		b->oom = true;
		return;
	}
	const char *sep = memchr(b->p, '?', b->len) ? "&" : "?";
	util_buf_put(b, sep, 1);
	util_buf_put(b, key, strlen(key));
	util_buf_put(b, "=", 1);
	util_buf_put(b, e, strlen(e));
}

static const char list_help[] =
	"Usage: cloister backends list [--name NAME] [--status STATUS] [--limit 1..1000]\n"
	"                              [--offset N]\n"
	"\n"
	"Lists backends (GET /backends): ID NAME ADDRESS STATUS LAST_SEEN, then \"N of TOTAL\".\n"
	"Users see their own backends, admins all. The server returns 10 by default.\n";

static int bk_list(struct bk_ctx *k, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "status", required_argument, NULL, OPT_STATUS },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ 0 },
	};
	struct list_args a = { 0 };
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, lo, list_help, list_opt, &a, 0, &first);
	if (rc >= 0)
		return rc;
	struct util_buf path = { 0 };
	util_buf_put(&path, "/backends", 9);
	char num[32];
	if (a.has_limit) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)a.limit);
		add_query(&path, "limit", num);
	}
	if (a.has_offset) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)a.offset);
		add_query(&path, "offset", num);
	}
	if (a.name)
		add_query(&path, "name", a.name);
	if (a.status)
		add_query(&path, "status", a.status);
	if (path.oom) {
		free(path.p);
		return cp_oom();
	}
	struct cp *x;
	rc = cp_open(&k->o, &x);
	if (rc) {
		free(path.p);
		return rc;
	}
	struct client_req rq = { .method = "GET", .path = path.p };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc < 0) {
		if (k->o.json) {
			rc = cp_print_json(x, &r);
		} else {
			struct cp_backend_list l;
			int e = cp_backend_list_parse(r.body, r.len, &l);
			if (e == -ENOMEM) {
				rc = cp_oom();
			} else if (e < 0) {
				rc = cp_bad_reply(x, "not a page of backends");
			} else {
				struct util_buf b = { 0 };
				cp_backend_table(&l, &b);
				rc = cp_put_buf(&b);
			}
			cp_backend_list_done(&l);
		}
		client_resp_done(&r);
	}
	cp_close(x);
	free(path.p);
	return rc;
}

/* ---------------------------------------------------------------- get */

static const char get_help[] = "Usage: cloister backends get ID\n"
			       "\n"
			       "Shows one backend (GET /backends/ID).\n";

static int bk_get(struct bk_ctx *k, int argc, char **argv)
{
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, NULL, get_help, NULL, NULL, 1, &first);
	if (rc >= 0 || (rc = check_id(argv[first], get_help)))
		return rc;
	char path[128];
	id_path(path, sizeof(path), argv[first], "");
	struct cp *x;
	rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	struct client_req rq = { .method = "GET", .path = path };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc < 0) {
		if (k->o.json) {
			rc = cp_print_json(x, &r);
		} else {
			struct cp_backend b;
			int e = cp_backend_parse(r.body, r.len, &b);
			if (e == -ENOMEM) {
				rc = cp_oom();
			} else if (e < 0) {
				rc = cp_bad_reply(x, "not a backend");
			} else {
				struct util_buf out = { 0 };
				cp_backend_render(&b, &out);
				rc = cp_put_buf(&out);
			}
			cp_backend_done(&b);
		}
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- update */

static const char update_help[] =
	"Usage: cloister backends update ID [--name NAME] [--address ADDRESS]\n"
	"                                   [--description TEXT]\n"
	"\n"
	"Changes the fields given and keeps the others (GET /backends/ID, then PUT of the\n"
	"merged object). --description \"\" clears the description.\n";

static int bk_update(struct bk_ctx *k, int argc, char **argv)
{
	struct fields f = { 0 };
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, field_opts, update_help, fields_opt, &f, 1,
			       &first);
	if (rc >= 0 || (rc = check_id(argv[first], update_help)))
		return rc;
	if (!f.name && !f.address && !f.description)
		return cli_usage_error(update_help, "nothing to change: give --name, --address or "
						    "--description");
	const char *id = argv[first];
	char path[128];
	id_path(path, sizeof(path), id, "");
	struct cp *x;
	rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	struct client_req get = { .method = "GET", .path = path };
	struct client_resp r;
	rc = send_ok(x, &get, &r);
	if (rc >= 0) {
		cp_close(x);
		return rc;
	}
	char *body = NULL;
	int e = cp_backend_update_body(r.body, r.len, f.name, f.address, f.description, &body);
	client_resp_done(&r);
	if (e == -ENOMEM) {
		rc = cp_oom();
	} else if (e == -EINVAL) {
		fputs("cloister: the name, address and description must be UTF-8\n", stderr);
		rc = CLI_EXIT_FAIL;
	} else if (e < 0) {
		rc = cp_bad_reply(x, "not a backend");
	} else {
		rc = simple_call_on(k, x, "PUT", path, body, "updated", id);
	}
	free(body);
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- delete */

static const char delete_help[] = "Usage: cloister backends delete ID\n"
				  "\n"
				  "Removes a backend (DELETE /backends/ID).\n";

static int bk_delete(struct bk_ctx *k, int argc, char **argv)
{
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, NULL, delete_help, NULL, NULL, 1, &first);
	if (rc >= 0 || (rc = check_id(argv[first], delete_help)))
		return rc;
	char path[128];
	id_path(path, sizeof(path), argv[first], "");
	return simple_call(k, "DELETE", path, NULL, "deleted", argv[first]);
}

/* ---------------------------------------------------------------- terminate */

struct term_args {
	uint64_t type;
	const char *reason;
};

static int term_opt(int opt, const char *arg, void *ud, const char *help)
{
	struct term_args *a = ud;
	if (opt == OPT_REASON) {
		a->reason = arg;
		return 0;
	}
	if (util_parse_u64(arg, 1, &a->type) < 0)
		return cli_usage_error(help, "--type wants 0 or 1, not '%s'", arg);
	return 0;
}

static const char terminate_help[] =
	"Usage: cloister backends terminate ID [--type 0|1] [--reason TEXT]\n"
	"\n"
	"Terminates a backend (POST /backends/ID/terminate): type 0 is a certificate\n"
	"revocation, type 1 (the default) a termination the user asked for.\n";

static int bk_terminate(struct bk_ctx *k, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ 0 },
	};
	struct term_args a = { .type = 1 };
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, lo, terminate_help, term_opt, &a, 1, &first);
	if (rc >= 0 || (rc = check_id(argv[first], terminate_help)))
		return rc;
	json_t *o = json_pack("{s:I}", "type", (json_int_t)a.type);
	if (o && a.reason && json_object_set_new(o, "reason", json_string(a.reason)) < 0) {
		json_decref(o);
		fputs("cloister: the reason must be UTF-8\n", stderr);
		return CLI_EXIT_FAIL;
	}
	_cleanup_free_ char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!body)
		return cp_oom();
	char path[128];
	id_path(path, sizeof(path), argv[first], "/terminate");
	return simple_call(k, "POST", path, body, "terminated", argv[first]);
}

/* ---------------------------------------------------------------- info */

struct info_args {
	const char *out, *set;
};

static int info_opt(int opt, const char *arg, void *ud, const char *help)
{
	(void)help;
	struct info_args *a = ud;
	if (opt == 'o')
		a->out = arg;
	else
		a->set = arg;
	return 0;
}

static const char info_help[] =
	"Usage: cloister backends info ID [-o FILE]\n"
	"       cloister backends info ID --set FILE\n"
	"\n"
	"Prints the backend-information (attestation policy) file stored for the backend\n"
	"(GET /backends/ID/info), or writes it to FILE atomically with -o. With --set, uploads\n"
	"FILE (JSON, at most 64 KiB) as the backend's information (PUT /backends/ID/info);\n"
	"cloisterd validates it.\n";

static int info_get(struct bk_ctx *k, const char *id, const char *out)
{
	char path[128];
	id_path(path, sizeof(path), id, "/info");
	struct cp *x;
	int rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	struct client_req rq = { .method = "GET", .path = path };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc < 0) {
		if (!cp_json_valid(r.body, r.len)) {
			rc = cp_bad_reply(x, "the stored information is not JSON");
		} else if (out) {
			mode_t um = umask(0);
			umask(um);
			int e = fsx_write_atomic(out, r.body, r.len, 0666 & ~um);
			if (e < 0) {
				fprintf(stderr, "cloister: %s: %s\n", out, strerror(-e));
				rc = CLI_EXIT_FAIL;
			} else {
				rc = CLI_EXIT_OK;
			}
		} else {
			/* The bytes as stored: `> file` must give back the same file. */
			fwrite(r.body, 1, r.len, stdout);
			rc = CLI_EXIT_OK;
		}
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

static int info_set(struct bk_ctx *k, const char *id, const char *file)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int e = fsx_read_file(file, CP_INFO_MAX_BYTES, &data, &len);
	if (e == -E2BIG) {
		fprintf(stderr, "cloister: %s: larger than %u KiB (cloisterd's limit)\n", file,
			CP_INFO_MAX_BYTES >> 10);
		return CLI_EXIT_FAIL;
	}
	if (e < 0) {
		fprintf(stderr, "cloister: %s: %s\n", file, strerror(-e));
		return CLI_EXIT_FAIL;
	}
	char path[128];
	id_path(path, sizeof(path), id, "/info");
	struct cp *x;
	int rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	struct client_req rq = { .method = "PUT",
				 .path = path,
				 .content_type = "application/json",
				 .body = data,
				 .body_len = len };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc < 0) {
		if (k->o.json) {
			rc = cp_print_json(x, &r);
		} else {
			printf("stored the information of %s\n", id);
			rc = CLI_EXIT_OK;
		}
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

static int bk_info(struct bk_ctx *k, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "set", required_argument, NULL, OPT_SET },
		{ 0 },
	};
	struct info_args a = { 0 };
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, lo, info_help, info_opt, &a, 1, &first);
	if (rc >= 0 || (rc = check_id(argv[first], info_help)))
		return rc;
	if (a.out && a.set)
		return cli_usage_error(info_help, "-o and --set cannot be combined");
	return a.set ? info_set(k, argv[first], a.set) : info_get(k, argv[first], a.out);
}

/* ---------------------------------------------------------------- entry */

static const struct {
	const char *name;
	int (*run)(struct bk_ctx *k, int argc, char **argv);
} bk_commands[] = {
	{ "create", bk_create }, { "list", bk_list },     { "get", bk_get },
	{ "update", bk_update }, { "delete", bk_delete }, { "terminate", bk_terminate },
	{ "info", bk_info },
};

int cmd_backends(int argc, char **argv)
{
	struct bk_ctx k;
	cp_opts_init(&k.o);
	static const struct option lo[] = { CP_GLOBAL_LONGOPTS, { 0 } };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		int rc = cp_opts_handle(&k.o, opt, optarg, backends_help);
		if (rc >= 0)
			return rc;
	}
	if (optind >= argc)
		return cli_usage_error(backends_help, "missing command");
	const char *name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(bk_commands); i++)
		if (strcmp(bk_commands[i].name, name) == 0)
			return bk_commands[i].run(&k, argc - optind, argv + optind);
	return cli_usage_error(backends_help, "unknown backends command '%s'", name);
}
