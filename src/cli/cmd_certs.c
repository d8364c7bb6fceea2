/*
 * cmd_certs.c - `cloister certs ...`: the certificates cloisterd's CA issues for backends (the
 * Prism certs service): issue, list, get, download (through a single-use download token),
 * renew, revoke, and the CRL and CA certificate.
 *
 * Same shape as cmd_backends.c: each command parses its own options (the global ones are
 * accepted before or after the command word), checks its arguments before anything touches
 * the network (backend ids are UUIDs, serials hex, so no argument can become another path),
 * then calls cloisterd through cp_send. A downloaded bundle holds a private key: it is written
 * atomically with mode 0600 and only after the reply has been checked to be PEM text. Human
 * output comes from cp_reply.c's renderers; --json prints the server's reply as received.
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

#define CERTS_SANS_MAX 16    /* --ip and --dns together: cloisterd's CA_MAX_SANS */
#define CERTS_DAYS_MAX 3650  /* --days: ten years */
#define CERTS_PATH_BYTES 160 /* "/certs/<serial>/download/token" and friends */

static const char certs_help[] =
	"Usage: cloister certs [options] <command> [args]\n"
	"\n"
	"Options (before or after the command):\n"
	"  --server URL        cloisterd's URL (env CLOISTER_SERVER; default: the session's)\n"
	"  --cacert FILE       trust the CA certificates in FILE (PEM) for https\n"
	"  --timeout SECONDS   limit for each request (default 60, 0 = none)\n"
	"  --json              print the server's JSON replies\n"
	"\n"
	"Commands:\n"
	"  issue BACKEND_ID [--ip IP]... [--dns NAME]... [--days N]\n"
	"                                 issue a certificate for a backend; prints its serial\n"
	"  list [--backend ID]            a table of certificates\n"
	"  get SERIAL                     one certificate (with its PEM)\n"
	"  download SERIAL [-o FILE]      the PEM bundle (CA, certificate, key) into FILE\n"
	"                                 (default SERIAL.pem, mode 0600); the key only once\n"
	"  renew SERIAL                   a new key and serial; the old one is revoked\n"
	"  revoke SERIAL                  revoke (its backend is terminated)\n"
	"  crl [-o FILE]                  the current certificate revocation list (PEM)\n"
	"  ca [-o FILE]                   the CA certificate (PEM)\n"
	"\n"
	"Run `cloister login` first. Run `cloister certs <command> --help` for one command.\n";

struct ct_ctx {
	struct cp_opts o;
};

enum { OPT_IP = 1, OPT_DNS, OPT_DAYS, OPT_BACKEND };

/* ---------------------------------------------------------------- helpers */

static int check_serial(const char *s, const char *help)
{
	if (!cp_serial_valid(s))
		return cli_usage_error(help,
				       "'%s' is not a certificate serial (1 to %d hex digits)", s,
				       CP_SERIAL_MAX_CHARS);
	return 0;
}

/* One request wanted as 2xx: -1 with r filled, else an exit code (the failure printed). */
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

/* Opens the session, sends one request, and hands a 2xx reply to done. */
static int one_call(struct ct_ctx *k, const struct client_req *rq,
		    int (*done)(struct ct_ctx *k, struct cp *x, struct client_resp *r, void *ud),
		    void *ud)
{
	struct cp *x;
	int rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	struct client_resp r;
	rc = send_ok(x, rq, &r);
	if (rc < 0) {
		rc = done(k, x, &r, ud);
		client_resp_done(&r);
	}
	cp_close(x);
	return rc;
}

/* Prints the serial of an issue/renew reply (or the reply with --json). */
static int print_serial(struct ct_ctx *k, struct cp *x, struct client_resp *r, void *ud)
{
	(void)ud;
	char serial[CP_SERIAL_MAX_CHARS + 1];
	if (cp_serial_reply_parse(r->body, r->len, serial) < 0)
		return cp_bad_reply(x, "no serial_number");
	if (k->o.json)
		return cp_print_json(x, r);
	printf("%s\n", serial);
	return CLI_EXIT_OK;
}

/* Writes PEM text to out (mode: 0600 for a key bundle, else 0666 & ~umask) or stdout. */
static int write_pem(struct cp *x, const struct client_resp *r, const char *out, bool secret)
{
	if (!cp_pem_valid(r->body, r->len))
		return cp_bad_reply(x, "not PEM");
	if (!out) {
		fwrite(r->body, 1, r->len, stdout);
		return CLI_EXIT_OK;
	}
	mode_t um = umask(0);
	umask(um);
	int e = fsx_write_atomic(out, r->body, r->len, secret ? 0600 : (0666 & ~um));
	if (e < 0) {
		fprintf(stderr, "cloister: %s: %s\n", out, strerror(-e));
		return CLI_EXIT_FAIL;
	}
	return CLI_EXIT_OK;
}

/* ---------------------------------------------------------------- issue */

struct issue_args {
	json_t *ips, *dns;
	uint64_t days;
	bool has_days;
	size_t sans;
};

static int issue_opt(int opt, const char *arg, void *ud, const char *help)
{
	struct issue_args *a = ud;
	if (opt == OPT_DAYS) {
		if (util_parse_u64(arg, CERTS_DAYS_MAX, &a->days) < 0 || a->days == 0)
			return cli_usage_error(help, "--days wants 1 to %d, not '%s'",
					       CERTS_DAYS_MAX, arg);
		a->has_days = true;
		return 0;
	}
	if (++a->sans > CERTS_SANS_MAX)
		return cli_usage_error(help, "at most %d --ip and --dns together", CERTS_SANS_MAX);
	json_t *s = json_string(arg);
	if (!s)
		return cli_usage_error(help, "'%s' is not UTF-8", arg);
	if (json_array_append_new(opt == OPT_IP ? a->ips : a->dns, s) < 0)
		return cp_oom();
	return 0;
}

static const char issue_help[] =
	"Usage: cloister certs issue BACKEND_ID [--ip IP]... [--dns NAME]... [--days N]\n"
	"\n"
	"Issues a server certificate for the backend's agent (POST /certs/issue/backend/ID)\n"
	"with the IP addresses and DNS names given (default: the backend address's host) and\n"
	"prints its serial. --days is its validity (default: cloisterd's, 365).\n";

static int ct_issue(struct ct_ctx *k, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "ip", required_argument, NULL, OPT_IP },
		{ "dns", required_argument, NULL, OPT_DNS },
		{ "days", required_argument, NULL, OPT_DAYS },
		{ 0 },
	};
	struct issue_args a = { .ips = json_array(), .dns = json_array() };
	json_t *body_o = json_object();
	char *body = NULL;
	int first, rc;
	if (!a.ips || !a.dns || !body_o) {
		rc = cp_oom();
		goto out;
	}
	rc = cp_parse_opts(&k->o, argc, argv, lo, issue_help, issue_opt, &a, 1, &first);
	if (rc >= 0)
		goto out;
	if (!cp_uuid_valid(argv[first])) {
		rc = cli_usage_error(issue_help, "'%s' is not a backend ID (a UUID)", argv[first]);
		goto out;
	}
	if ((json_array_size(a.ips) && json_object_set(body_o, "ip_addresses", a.ips) < 0) ||
	    (json_array_size(a.dns) && json_object_set(body_o, "dns_names", a.dns) < 0) ||
	    (a.has_days &&
	     json_object_set_new(body_o, "ttl_days", json_integer((json_int_t)a.days)) < 0) ||
	    !(body = json_dumps(body_o, JSON_COMPACT))) {
		rc = cp_oom();
		goto out;
	}
	char path[CERTS_PATH_BYTES];
	snprintf(path, sizeof(path), "/certs/issue/backend/%s", argv[first]);
	struct client_req rq = { .method = "POST",
				 .path = path,
				 .content_type = "application/json",
				 .body = body,
				 .body_len = strlen(body) };
	rc = one_call(k, &rq, print_serial, NULL);
out:
	free(body);
	json_decref(body_o);
	json_decref(a.ips);
	json_decref(a.dns);
	return rc;
}

/* ---------------------------------------------------------------- list, get */

static int backend_opt(int opt, const char *arg, void *ud, const char *help)
{
	(void)opt;
	if (!cp_uuid_valid(arg))
		return cli_usage_error(help, "'%s' is not a backend ID (a UUID)", arg);
	*(const char **)ud = arg;
	return 0;
}

static int show_list(struct ct_ctx *k, struct cp *x, struct client_resp *r, void *ud)
{
	(void)ud;
	if (k->o.json)
		return cp_print_json(x, r);
	struct cp_cert_list l;
	int e = cp_cert_list_parse(r->body, r->len, &l);
	int rc;
	if (e == -ENOMEM) {
		rc = cp_oom();
	} else if (e < 0) {
		rc = cp_bad_reply(x, "not a page of certificates");
	} else {
		struct util_buf b = { 0 };
		cp_cert_table(&l, &b);
		rc = cp_put_buf(&b);
	}
	cp_cert_list_done(&l);
	return rc;
}

static const char list_help[] =
	"Usage: cloister certs list [--backend ID]\n"
	"\n"
	"Lists certificates (GET /certs): SERIAL BACKEND NOT_AFTER REVOKED KEY, then\n"
	"\"N of TOTAL\". Users see the certificates of their own backends, admins all.\n";

static int ct_list(struct ct_ctx *k, int argc, char **argv)
{
	static const struct option lo[] = { { "backend", required_argument, NULL, OPT_BACKEND },
					    { 0 } };
	const char *backend = NULL;
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, lo, list_help, backend_opt, &backend, 0, &first);
	if (rc >= 0)
		return rc;
	char path[CERTS_PATH_BYTES] = "/certs?limit=1000";
	if (backend)
		snprintf(path, sizeof(path), "/certs?limit=1000&backend_id=%s", backend);
	struct client_req rq = { .method = "GET", .path = path };
	return one_call(k, &rq, show_list, NULL);
}

static int show_cert(struct ct_ctx *k, struct cp *x, struct client_resp *r, void *ud)
{
	const char *verb = ud;
	if (k->o.json)
		return cp_print_json(x, r);
	struct cp_cert c;
	int e = cp_cert_parse(r->body, r->len, &c);
	int rc;
	if (e == -ENOMEM) {
		rc = cp_oom();
	} else if (e < 0) {
		rc = cp_bad_reply(x, "not a certificate");
	} else if (verb) {
		printf("%s %s\n", verb, c.serial);
		rc = CLI_EXIT_OK;
	} else {
		struct util_buf b = { 0 };
		cp_cert_render(&c, &b);
		rc = cp_put_buf(&b);
	}
	cp_cert_done(&c);
	return rc;
}

static const char get_help[] = "Usage: cloister certs get SERIAL\n"
			       "\n"
			       "Shows one certificate (GET /certs/SERIAL) and its PEM.\n";

static int ct_get(struct ct_ctx *k, int argc, char **argv)
{
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, NULL, get_help, NULL, NULL, 1, &first);
	if (rc >= 0 || (rc = check_serial(argv[first], get_help)))
		return rc;
	char path[CERTS_PATH_BYTES];
	snprintf(path, sizeof(path), "/certs/%s", argv[first]);
	struct client_req rq = { .method = "GET", .path = path };
	return one_call(k, &rq, show_cert, NULL);
}

/* ---------------------------------------------------------------- download */

static int out_opt(int opt, const char *arg, void *ud, const char *help)
{
	(void)opt;
	(void)help;
	*(const char **)ud = arg;
	return 0;
}

static const struct option out_opts[] = { { "output", required_argument, NULL, 'o' }, { 0 } };

static const char download_help[] =
	"Usage: cloister certs download SERIAL [-o FILE]\n"
	"\n"
	"Downloads the PEM bundle of a certificate (the CA certificate, the certificate and its\n"
	"private key) into FILE (default SERIAL.pem), written atomically with mode 0600. It asks\n"
	"for a single-use download token first (GET /certs/SERIAL/download/token). cloisterd\n"
	"hands the private key out once: a second download is refused (HTTP 410).\n";

static int ct_download(struct ct_ctx *k, int argc, char **argv)
{
	const char *out = NULL;
	int first;
	int rc =
		cp_parse_opts(&k->o, argc, argv, out_opts, download_help, out_opt, &out, 1, &first);
	if (rc >= 0 || (rc = check_serial(argv[first], download_help)))
		return rc;
	const char *serial = argv[first];
	char def[CP_SERIAL_MAX_CHARS + 8];
	if (!out) {
		snprintf(def, sizeof(def), "%s.pem", serial);
		out = def;
	}
	char *etok = NULL, *dpath = NULL;
	struct cp *x;
	rc = cp_open(&k->o, &x);
	if (rc)
		return rc;
	char path[CERTS_PATH_BYTES];
	snprintf(path, sizeof(path), "/certs/%s/download/token", serial);
	struct client_req rq = { .method = "GET", .path = path };
	struct client_resp r;
	rc = send_ok(x, &rq, &r);
	if (rc >= 0)
		goto out;
	char *token = NULL;
	int e = cp_download_token_parse(r.body, r.len, &token);
	client_resp_done(&r);
	if (e < 0) {
		rc = e == -ENOMEM ? cp_oom() : cp_bad_reply(x, "no download token");
		goto out;
	}
	/* The token is a credential: it goes in the query (the route is public), escaped. */
	etok = client_escape(token, strlen(token));
	free(token);
	if (!etok || asprintf(&dpath, "/certs/%s/download?token=%s", serial, etok) < 0) {
		dpath = NULL;
		rc = cp_oom();
		goto out;
	}
	struct client_req dl = { .method = "GET", .path = dpath };
	rc = send_ok(x, &dl, &r);
	if (rc >= 0)
		goto out;
	rc = write_pem(x, &r, out, true);
	if (rc == CLI_EXIT_OK && !k->o.json)
		printf("wrote %s\n", out);
	else if (rc == CLI_EXIT_OK)
		printf("{\"file\":\"%s\"}\n", out[0] && !strpbrk(out, "\"\\") ? out : "");
	client_resp_done(&r);
out:
	free(etok);
	free(dpath);
	cp_close(x);
	return rc;
}

/* ---------------------------------------------------------------- renew, revoke */

static const char renew_help[] =
	"Usage: cloister certs renew SERIAL\n"
	"\n"
	"Issues a new certificate (new key, new serial) for the same backend and names\n"
	"(PATCH /certs/SERIAL/renew), revokes the old one and prints the new serial.\n";

static int ct_renew(struct ct_ctx *k, int argc, char **argv)
{
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, NULL, renew_help, NULL, NULL, 1, &first);
	if (rc >= 0 || (rc = check_serial(argv[first], renew_help)))
		return rc;
	char path[CERTS_PATH_BYTES];
	snprintf(path, sizeof(path), "/certs/%s/renew", argv[first]);
	struct client_req rq = { .method = "PATCH", .path = path };
	return one_call(k, &rq, print_serial, NULL);
}

static const char revoke_help[] =
	"Usage: cloister certs revoke SERIAL\n"
	"\n"
	"Revokes a certificate (PATCH /certs/SERIAL/revoke): cloisterd terminates its backend\n"
	"(type 0, certificate revocation) and publishes a new CRL.\n";

static int ct_revoke(struct ct_ctx *k, int argc, char **argv)
{
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, NULL, revoke_help, NULL, NULL, 1, &first);
	if (rc >= 0 || (rc = check_serial(argv[first], revoke_help)))
		return rc;
	char path[CERTS_PATH_BYTES];
	snprintf(path, sizeof(path), "/certs/%s/revoke", argv[first]);
	struct client_req rq = { .method = "PATCH", .path = path };
	return one_call(k, &rq, show_cert, "revoked");
}

/* ---------------------------------------------------------------- crl, ca */

static int save_pem(struct ct_ctx *k, struct cp *x, struct client_resp *r, void *ud)
{
	(void)k;
	return write_pem(x, r, ud, false);
}

static const char crl_help[] =
	"Usage: cloister certs crl [-o FILE]\n"
	"\n"
	"Prints (or writes to FILE) the CA's current certificate revocation\n"
	"list in PEM (GET /certs/crl).\n";
static const char ca_help[] = "Usage: cloister certs ca [-o FILE]\n"
			      "\n"
			      "Prints (or writes to FILE) the CA certificate in PEM\n"
			      "(GET /certs/view-ca): what agents trust as their client CA.\n";

static int public_pem(struct ct_ctx *k, int argc, char **argv, const char *help, const char *path)
{
	const char *out = NULL;
	int first;
	int rc = cp_parse_opts(&k->o, argc, argv, out_opts, help, out_opt, &out, 0, &first);
	if (rc >= 0)
		return rc;
	struct client_req rq = { .method = "GET", .path = path };
	return one_call(k, &rq, save_pem, (void *)out);
}

static int ct_crl(struct ct_ctx *k, int argc, char **argv)
{
	return public_pem(k, argc, argv, crl_help, "/certs/crl");
}

static int ct_ca(struct ct_ctx *k, int argc, char **argv)
{
	return public_pem(k, argc, argv, ca_help, "/certs/view-ca");
}

/* ---------------------------------------------------------------- entry */

static const struct {
	const char *name;
	int (*run)(struct ct_ctx *k, int argc, char **argv);
} ct_commands[] = {
	{ "issue", ct_issue },       { "list", ct_list },   { "get", ct_get },
	{ "download", ct_download }, { "renew", ct_renew }, { "revoke", ct_revoke },
	{ "crl", ct_crl },           { "ca", ct_ca },
};

int cmd_certs(int argc, char **argv)
{
	struct ct_ctx k;
	cp_opts_init(&k.o);
	static const struct option lo[] = { CP_GLOBAL_LONGOPTS, { 0 } };
	int opt;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		int rc = cp_opts_handle(&k.o, opt, optarg, certs_help);
		if (rc >= 0)
			return rc;
	}
	if (optind >= argc)
		return cli_usage_error(certs_help, "missing command");
	const char *name = argv[optind];
	for (size_t i = 0; i < ARRAY_SIZE(ct_commands); i++)
		if (strcmp(ct_commands[i].name, name) == 0)
			return ct_commands[i].run(&k, argc - optind, argv + optind);
	return cli_usage_error(certs_help, "unknown certs command '%s'", name);
}
