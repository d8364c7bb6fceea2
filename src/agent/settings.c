/*
 * settings.c - loads cloister-agent's configuration (see settings.h).
 *
 * The key table below is the single source of truth: every accepted key with its type and range.
 * config_check rejects anything not in it with file:line; values are then copied into struct
 * settings, and actions are split into argv (cmdsplit: never a shell) and resolved to an absolute
 * executable now, so a broken action is a start-up error rather than a runtime surprise.
 */
#include "agent/settings.h"

#include "agent/crl.h"
#include "agent/limits.h"
#include "attest/tsm.h"
#include "cmdsplit.h"
#include "config.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define G "general"
#define C "cloister"
#define S "status"
#define A "attestation"

static const struct config_key keys[] = {
	{ G, "listen_addr", CONFIG_STRING, 0, 0 },
	{ G, "pipe_file", CONFIG_STRING, 0, 0 },
	{ G, "log_json", CONFIG_BOOL, 0, 0 },
	{ G, "log_debug", CONFIG_BOOL, 0, 0 },
	{ G, "pprof", CONFIG_BOOL, 0, 0 },
	{ G, "log_max_entries", CONFIG_INT, 0, AGENT_EVENTS_MAX_ENTRIES_CEILING },
	{ G, "basic_auth_secret_path", CONFIG_STRING, 0, 0 },
	{ G, "basic_auth_secret_salt", CONFIG_STRING, 0, 0 },
	{ G, "http_read_timeout_ms", CONFIG_INT, 0, 3600 * 1000 },
	{ G, "http_write_timeout_ms", CONFIG_INT, 0, 3600 * 1000 },
	{ G, "tls_enabled", CONFIG_BOOL, 0, 0 },
	{ G, "tls_create_if_missing", CONFIG_BOOL, 0, 0 },
	{ G, "tls_cert_hosts", CONFIG_STRING_ARRAY, 0, 0 },
	{ G, "tls_cert_path", CONFIG_STRING, 0, 0 },
	{ G, "tls_key_path", CONFIG_STRING, 0, 0 },
	{ C, "events_file", CONFIG_STRING, 0, 0 },
	{ C, "events_max_bytes", CONFIG_INT, 4096, AGENT_EVENTS_MAX_BYTES_CEILING },
	{ C, "event_max_bytes", CONFIG_INT, 64, AGENT_EVENT_MAX_BYTES_CEILING },
	{ C, "action_timeout_ms", CONFIG_INT, 10, AGENT_ACTION_TIMEOUT_CEILING_MS },
	{ C, "action_max_concurrent", CONFIG_INT, 1, AGENT_ACTION_CONCURRENT_CEILING },
	{ C, "action_output_max_bytes", CONFIG_INT, 0, AGENT_ACTION_OUTPUT_CEILING_BYTES },
	{ C, "actions_allow_get", CONFIG_BOOL, 0, 0 },
	{ C, "new_event_allow_get", CONFIG_BOOL, 0, 0 },
	{ C, "upload_max_bytes", CONFIG_INT, 0, (long long)AGENT_UPLOAD_MAX_CEILING_BYTES },
	{ C, "auth_allow_first_secret_over_network", CONFIG_BOOL, 0, 0 },
	{ C, "tls_client_ca_path", CONFIG_STRING, 0, 0 },
	{ C, "tls_client_crl_path", CONFIG_STRING, 0, 0 },
	{ C, "tls_client_cn", CONFIG_STRING, 0, 0 },
	{ C, "tls_client_require_eku", CONFIG_BOOL, 0, 0 },
	{ C, "tls_client_crl_url", CONFIG_STRING, 0, 0 },
	{ C, "tls_client_crl_refresh_s", CONFIG_INT, AGENT_CRL_REFRESH_MIN_S,
	  AGENT_CRL_REFRESH_MAX_S },
	{ C, "tls_cert_days", CONFIG_INT, 1, 3650 },
	{ C, "max_connections", CONFIG_INT, 1, AGENT_CONN_LIMIT_CEILING },
	{ C, "max_connections_per_ip", CONFIG_INT, 1, AGENT_CONN_LIMIT_CEILING },
	{ C, "connection_timeout_s", CONFIG_INT, 1, 3600 },
	{ C, "http_threads", CONFIG_INT, 1, AGENT_HTTP_THREADS_CEILING },
	{ S, "systemctl_path", CONFIG_STRING, 0, 0 },
	{ S, "journalctl_path", CONFIG_STRING, 0, 0 },
	{ S, "nvidia_smi_path", CONFIG_STRING, 0, 0 },
	{ S, "journal_directory", CONFIG_STRING, 0, 0 },
	{ S, "gpu", CONFIG_BOOL, 0, 0 },
	{ S, "command_timeout_ms", CONFIG_INT, 10, AGENT_STATUS_TIMEOUT_CEILING_MS },
	{ S, "max_output_bytes", CONFIG_INT, AGENT_STATUS_OUTPUT_MIN_BYTES,
	  AGENT_STATUS_OUTPUT_CEILING_BYTES },
	{ S, "log_lines_max", CONFIG_INT, 100, AGENT_LOG_LINES_CEILING },
	{ S, "cache_ttl_ms", CONFIG_INT, 0, AGENT_CACHE_TTL_CEILING_MS },
	{ A, "provider", CONFIG_STRING, 0, 0 },
	{ A, "tsm_path", CONFIG_STRING, 0, 0 },
	{ A, "privlevel", CONFIG_INT, -1, TSM_PRIVLEVEL_MAX },
	{ "actions", NULL, CONFIG_STRING, 0, 0 },
	{ "file_uploads", NULL, CONFIG_STRING, 0, 0 },
};

static void fail(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void fail(char *err, size_t errlen, const char *file, unsigned line, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(err, errlen, "%s:%u: %s", file, line, msg);
	else
		snprintf(err, errlen, "%s: %s", file, msg);
}

static bool name_ok(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 64)
		return false;
	for (const char *p = n; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-' || *p == '.'))
			return false;
	return true;
}

static int set_str(char **dst, const char *v)
{
	char *n = strdup(v);
	if (!n)
		return -ENOMEM;
	free(*dst);
	*dst = n;
	return 0;
}

static void set_defaults(struct settings *s)
{
	s->log_max_entries = AGENT_EVENTS_MAX_ENTRIES_DEFAULT;
	s->events_max_bytes = AGENT_EVENTS_MAX_BYTES_DEFAULT;
	s->event_max_bytes = AGENT_EVENT_MAX_BYTES_DEFAULT;
	s->action_timeout_ms = AGENT_ACTION_TIMEOUT_DEFAULT_MS;
	s->action_max_concurrent = AGENT_ACTION_CONCURRENT_DEFAULT;
	s->action_output_max_bytes = AGENT_ACTION_OUTPUT_DEFAULT_BYTES;
	s->actions_allow_get = true;
	s->new_event_allow_get = true;
	s->upload_max_bytes = (long long)AGENT_UPLOAD_MAX_DEFAULT_BYTES;
	s->auth_allow_first_secret_over_network = true;
	s->tls_cert_days = AGENT_TLS_CERT_DAYS_DEFAULT;
	s->tls_client_require_eku = true;
	s->tls_client_crl_refresh_s = AGENT_CRL_REFRESH_DEFAULT_S;
	s->max_connections = AGENT_CONN_LIMIT_DEFAULT;
	s->max_connections_per_ip = AGENT_PER_IP_LIMIT_DEFAULT;
	s->connection_timeout_s = AGENT_CONN_TIMEOUT_DEFAULT_S;
	s->http_threads = AGENT_HTTP_THREADS_DEFAULT;
	s->gpu = true;
	s->command_timeout_ms = AGENT_STATUS_TIMEOUT_DEFAULT_MS;
	s->max_output_bytes = AGENT_STATUS_OUTPUT_DEFAULT_BYTES;
	s->log_lines_max = AGENT_LOG_LINES_MAX_DEFAULT;
	s->cache_ttl_ms = AGENT_CACHE_TTL_DEFAULT_MS;
	s->tsm_privlevel = -1;
}

/* Copies one [general]/[cloister] entry into s. Returns 0, 1 when unknown (cannot happen after
 * config_check), or -ENOMEM. */
static int apply_scalar(struct settings *s, const struct config_entry *e)
{
	struct {
		const char *table, *key;
		char **str;
		bool *b;
		long long *i;
	} map[] = {
		{ G, "listen_addr", &s->listen_addr, NULL, NULL },
		{ G, "pipe_file", &s->pipe_file, NULL, NULL },
		{ G, "log_json", NULL, &s->log_json, NULL },
		{ G, "log_debug", NULL, &s->log_debug, NULL },
		{ G, "pprof", NULL, &s->pprof, NULL },
		{ G, "log_max_entries", NULL, NULL, &s->log_max_entries },
		{ G, "basic_auth_secret_path", &s->basic_auth_secret_path, NULL, NULL },
		{ G, "basic_auth_secret_salt", &s->basic_auth_secret_salt, NULL, NULL },
		{ G, "http_read_timeout_ms", NULL, NULL, &s->http_read_timeout_ms },
		{ G, "http_write_timeout_ms", NULL, NULL, &s->http_write_timeout_ms },
		{ G, "tls_enabled", NULL, &s->tls_enabled, NULL },
		{ G, "tls_create_if_missing", NULL, &s->tls_create_if_missing, NULL },
		{ G, "tls_cert_path", &s->tls_cert_path, NULL, NULL },
		{ G, "tls_key_path", &s->tls_key_path, NULL, NULL },
		{ C, "events_file", &s->events_file, NULL, NULL },
		{ C, "events_max_bytes", NULL, NULL, &s->events_max_bytes },
		{ C, "event_max_bytes", NULL, NULL, &s->event_max_bytes },
		{ C, "action_timeout_ms", NULL, NULL, &s->action_timeout_ms },
		{ C, "action_max_concurrent", NULL, NULL, &s->action_max_concurrent },
		{ C, "action_output_max_bytes", NULL, NULL, &s->action_output_max_bytes },
		{ C, "actions_allow_get", NULL, &s->actions_allow_get, NULL },
		{ C, "new_event_allow_get", NULL, &s->new_event_allow_get, NULL },
		{ C, "upload_max_bytes", NULL, NULL, &s->upload_max_bytes },
		{ C, "auth_allow_first_secret_over_network", NULL,
		  &s->auth_allow_first_secret_over_network, NULL },
		{ C, "tls_client_ca_path", &s->tls_client_ca_path, NULL, NULL },
		{ C, "tls_client_crl_path", &s->tls_client_crl_path, NULL, NULL },
		{ C, "tls_client_cn", &s->tls_client_cn, NULL, NULL },
		{ C, "tls_client_require_eku", NULL, &s->tls_client_require_eku, NULL },
		{ C, "tls_client_crl_url", &s->tls_client_crl_url, NULL, NULL },
		{ C, "tls_client_crl_refresh_s", NULL, NULL, &s->tls_client_crl_refresh_s },
		{ C, "tls_cert_days", NULL, NULL, &s->tls_cert_days },
		{ C, "max_connections", NULL, NULL, &s->max_connections },
		{ C, "max_connections_per_ip", NULL, NULL, &s->max_connections_per_ip },
		{ C, "connection_timeout_s", NULL, NULL, &s->connection_timeout_s },
		{ C, "http_threads", NULL, NULL, &s->http_threads },
		{ S, "systemctl_path", &s->systemctl_path, NULL, NULL },
		{ S, "journalctl_path", &s->journalctl_path, NULL, NULL },
		{ S, "nvidia_smi_path", &s->nvidia_smi_path, NULL, NULL },
		{ S, "journal_directory", &s->journal_directory, NULL, NULL },
		{ S, "gpu", NULL, &s->gpu, NULL },
		{ S, "command_timeout_ms", NULL, NULL, &s->command_timeout_ms },
		{ S, "max_output_bytes", NULL, NULL, &s->max_output_bytes },
		{ S, "log_lines_max", NULL, NULL, &s->log_lines_max },
		{ S, "cache_ttl_ms", NULL, NULL, &s->cache_ttl_ms },
		{ A, "provider", &s->attestation_provider, NULL, NULL },
		{ A, "tsm_path", &s->tsm_path, NULL, NULL },
		{ A, "privlevel", NULL, NULL, &s->tsm_privlevel },
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		if (strcmp(map[i].table, e->table) != 0 || strcmp(map[i].key, e->key) != 0)
			continue;
		if (map[i].str)
			return set_str(map[i].str, e->str);
		if (map[i].b)
			*map[i].b = e->boolean;
		if (map[i].i)
			*map[i].i = e->num;
		return 0;
	}
	return 1;
}

static char *join_argv(char *const *argv)
{
	size_t n = 1;
	for (size_t i = 0; argv[i]; i++)
		n += strlen(argv[i]) + 1;
	char *out = calloc(1, n);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; argv[i]; i++) {
		size_t l = strlen(argv[i]);
		if (i)
			out[o++] = ' ';
		memcpy(out + o, argv[i], l);
		o += l;
	}
	return out;
}

static int add_action(struct settings *s, const struct config_entry *e, const char *file, char *err,
		      size_t errlen)
{
	if (!name_ok(e->key)) {
		fail(err, errlen, file, e->line, "action name '%s' must be 1-64 of [A-Za-z0-9_.-]",
		     e->key);
		return -EINVAL;
	}
	if (s->n_actions >= AGENT_ACTIONS_MAX) {
		fail(err, errlen, file, e->line, "more than %d actions", AGENT_ACTIONS_MAX);
		return -E2BIG;
	}
	char **argv = NULL;
	char msg[160] = "";
	if (e->type == CONFIG_STRING) {
		int rc = cmdsplit(e->str, &argv, msg, sizeof(msg));
		if (rc < 0) {
			fail(err, errlen, file, e->line, "action '%s': %s", e->key, msg);
			return rc;
		}
	} else {
		if (e->arr_len == 0) {
			fail(err, errlen, file, e->line, "action '%s': empty argv", e->key);
			return -EINVAL;
		}
		/* One allocation (pointers, then the strings), the layout cmdsplit returns, so that
		 * cmdsplit_free releases either kind of argv whole. */
		size_t bytes = (e->arr_len + 1) * sizeof(char *);
		for (size_t i = 0; i < e->arr_len; i++)
			bytes += strlen(e->arr[i]) + 1;
		argv = calloc(1, bytes);
		if (!argv)
			return -ENOMEM;
		char *p = (char *)(argv + e->arr_len + 1);
		for (size_t i = 0; i < e->arr_len; i++) {
			size_t l = strlen(e->arr[i]) + 1;
			memcpy(p, e->arr[i], l);
			argv[i] = p;
			p += l;
		}
	}
	char path[PATH_MAX];
	int rc = cmdsplit_resolve(argv[0], path, sizeof(path));
	if (rc < 0) {
		fail(err, errlen, file, e->line, "action '%s': executable '%s' %s", e->key, argv[0],
		     rc == -ENOENT ? "not found (searched "
				     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)"
				   : "must be an absolute path to an executable file");
		cmdsplit_free(argv);
		return rc;
	}
	struct settings_action *na = realloc(s->actions, (s->n_actions + 1) * sizeof(*na));
	if (!na) {
		cmdsplit_free(argv);
		return -ENOMEM;
	}
	s->actions = na;
	struct settings_action *a = &s->actions[s->n_actions];
	*a = (struct settings_action){ strdup(e->key),
				       e->type == CONFIG_STRING ? strdup(e->str) : join_argv(argv),
				       strdup(path), argv };
	s->n_actions++;
	if (!a->name || !a->command || !a->path)
		return -ENOMEM;
	return 0;
}

static int add_upload(struct settings *s, const struct config_entry *e, const char *file, char *err,
		      size_t errlen)
{
	if (!name_ok(e->key)) {
		fail(err, errlen, file, e->line, "upload name '%s' must be 1-64 of [A-Za-z0-9_.-]",
		     e->key);
		return -EINVAL;
	}
	if (e->type != CONFIG_STRING || e->str[0] != '/') {
		fail(err, errlen, file, e->line, "file upload '%s' must be an absolute path",
		     e->key);
		return -EINVAL;
	}
	const char *base = strrchr(e->str, '/') + 1;
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
		fail(err, errlen, file, e->line,
		     "file upload '%s' must name a file, not a directory", e->key);
		return -EINVAL;
	}
	if (s->n_uploads >= AGENT_UPLOADS_MAX) {
		fail(err, errlen, file, e->line, "more than %d file uploads", AGENT_UPLOADS_MAX);
		return -E2BIG;
	}
	struct settings_upload *nu = realloc(s->uploads, (s->n_uploads + 1) * sizeof(*nu));
	if (!nu)
		return -ENOMEM;
	s->uploads = nu;
	s->uploads[s->n_uploads] = (struct settings_upload){ strdup(e->key), strdup(e->str) };
	s->n_uploads++;
	if (!s->uploads[s->n_uploads - 1].name || !s->uploads[s->n_uploads - 1].path)
		return -ENOMEM;
	return 0;
}

static struct settings_service *service_slot(struct settings *s, const char *id)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (strcmp(s->services[i].id, id) == 0)
			return &s->services[i];
	if (s->n_services >= AGENT_SERVICES_MAX)
		return NULL;
	struct settings_service *n = realloc(s->services, (s->n_services + 1) * sizeof(*n));
	if (!n)
		return NULL;
	s->services = n;
	struct settings_service *sv = &s->services[s->n_services];
	*sv = (struct settings_service){ .id = strdup(id) };
	if (!sv->id)
		return NULL;
	s->n_services++;
	return sv;
}

static int add_service_key(struct settings *s, const struct config_entry *e, const char *file,
			   char *err, size_t errlen)
{
	const char *id = e->table + 9;
	if (!name_ok(id) || strchr(id, '.')) {
		fail(err, errlen, file, e->line, "service id '%s' must be 1-64 of [A-Za-z0-9_-]",
		     id);
		return -EINVAL;
	}
	struct settings_service *sv = service_slot(s, id);
	if (!sv) {
		fail(err, errlen, file, e->line, "more than %d services", AGENT_SERVICES_MAX);
		return -E2BIG;
	}
	if (strcmp(e->key, "masked_ok") == 0) {
		sv->masked_ok = e->boolean;
		return 0;
	}
	char **dst = strcmp(e->key, "unit") == 0          ? &sv->unit
		     : strcmp(e->key, "description") == 0 ? &sv->description
							  : &sv->log_identifier;
	/* Units and identifiers reach journalctl/systemctl as one argv word after "--unit=" etc.;
	 * still refuse anything that could read as an option or carry control characters. */
	if (dst != &sv->description) {
		const char *v = e->str;
		bool ok = v[0] && v[0] != '-' && strlen(v) <= 256;
		for (const char *p = v; ok && *p; p++)
			if ((unsigned char)*p < 0x21 || *p == 0x7f)
				ok = false;
		if (!ok) {
			fail(err, errlen, file, e->line, "'%s' must be a unit name without spaces",
			     e->key);
			return -EINVAL;
		}
	}
	return set_str(dst, e->str);
}

/* Every [services.<id>] table, an empty one too, needs a unit; the error points at its header.
 * Without any [services.*] the sek8s allowlist applies. */
static int check_services(const struct settings *s, const struct config_doc *doc, const char *file,
			  char *err, size_t errlen)
{
	for (size_t t = 0; t < doc->n_tables; t++) {
		const char *tn = doc->tables[t].name;
		if (strncmp(tn, "services.", 9) != 0)
			continue;
		const struct settings_service *sv = settings_service(s, tn + 9);
		if (!sv || !sv->unit) {
			fail(err, errlen, file, doc->tables[t].line, "[%s] needs a unit", tn);
			return -EINVAL;
		}
	}
	return 0;
}

static int default_services(struct settings *s)
{
	static const struct {
		const char *id, *desc;
		bool masked_ok;
	} d[] = {
		{ "admission-controller", "Admission controller", false },
		{ "attestation-service", "Attestation service", false },
		{ "k3s", "K3s server", false },
		{ "nvidia-persistenced", "NVIDIA persistence daemon", false },
		{ "nvidia-fabricmanager", "NVIDIA fabric manager", true },
	};
	for (size_t i = 0; i < ARRAY_SIZE(d); i++) {
		struct settings_service *sv = service_slot(s, d[i].id);
		if (!sv)
			return -ENOMEM;
		size_t n = strlen(d[i].id) + sizeof(".service");
		sv->unit = malloc(n);
		sv->description = strdup(d[i].desc);
		if (!sv->unit || !sv->description)
			return -ENOMEM;
		snprintf(sv->unit, n, "%s.service", d[i].id);
		sv->masked_ok = d[i].masked_ok;
	}
	return 0;
}

static bool abs_path_ok(const char *p)
{
	return p[0] == '/';
}

/* [attestation] values the key table cannot express; errors name the key's line. */
static int check_attestation(const struct settings *s, const struct config_doc *doc,
			     const char *file, char *err, size_t errlen)
{
	const struct config_entry *e = doc ? config_find(doc, A, "provider") : NULL;
	if (strcmp(s->attestation_provider, "none") != 0 &&
	    strcmp(s->attestation_provider, "configfs-tsm") != 0) {
		fail(err, errlen, file, e ? e->line : 0,
		     "[attestation] provider must be \"none\" or \"configfs-tsm\"");
		return -EINVAL;
	}
	e = doc ? config_find(doc, A, "tsm_path") : NULL;
	if (!abs_path_ok(s->tsm_path)) {
		fail(err, errlen, file, e ? e->line : 0,
		     "[attestation] tsm_path must be an absolute path");
		return -EINVAL;
	}
	return 0;
}

/* [cloister] tls_client_cn / tls_client_crl_url / tls_client_crl_path belong together. */
static int check_client_trust(const struct settings *s, const struct config_doc *doc,
			      const char *file, char *err, size_t errlen)
{
	const struct config_entry *e = doc ? config_find(doc, C, "tls_client_cn") : NULL;
	size_t n = strlen(s->tls_client_cn);
	bool printable = true;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s->tls_client_cn[i] < 0x20 || s->tls_client_cn[i] == 0x7f)
			printable = false;
	if (n > AGENT_CLIENT_CN_MAX_BYTES || !printable) {
		fail(err, errlen, file, e ? e->line : 0,
		     "tls_client_cn must be at most %d printable bytes", AGENT_CLIENT_CN_MAX_BYTES);
		return -EINVAL;
	}
	if ((n || s->tls_client_crl_path[0]) && !s->tls_client_ca_path[0]) {
		fail(err, errlen, file, e ? e->line : 0,
		     "tls_client_cn and tls_client_crl_path need tls_client_ca_path");
		return -EINVAL;
	}
	const char *u = s->tls_client_crl_url;
	e = doc ? config_find(doc, C, "tls_client_crl_url") : NULL;
	if (!u[0])
		return 0;
	if ((strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
	    strlen(u) > AGENT_CRL_URL_MAX_BYTES || strpbrk(u, " \t\r\n")) {
		fail(err, errlen, file, e ? e->line : 0,
		     "tls_client_crl_url must be an http:// or https:// URL of at most %d bytes",
		     AGENT_CRL_URL_MAX_BYTES);
		return -EINVAL;
	}
	if (!s->tls_client_crl_path[0] || s->tls_client_crl_path[0] != '/') {
		fail(err, errlen, file, e ? e->line : 0,
		     "tls_client_crl_url needs tls_client_crl_path (an absolute path: where the "
		     "fetched CRL is kept)");
		return -EINVAL;
	}
	return 0;
}

static int fill_defaults_str(struct settings *s)
{
	struct {
		char **p;
		const char *v;
	} d[] = {
		{ &s->listen_addr, "127.0.0.1:3535" },
		{ &s->pipe_file, "" },
		{ &s->basic_auth_secret_path, "" },
		{ &s->basic_auth_secret_salt, "" },
		{ &s->tls_cert_path, "" },
		{ &s->tls_key_path, "" },
		{ &s->events_file, "events.log" },
		{ &s->tls_client_ca_path, "" },
		{ &s->tls_client_crl_path, "" },
		{ &s->tls_client_cn, "" },
		{ &s->tls_client_crl_url, "" },
		{ &s->systemctl_path, "/usr/bin/systemctl" },
		{ &s->journalctl_path, "/usr/bin/journalctl" },
		{ &s->nvidia_smi_path, "/usr/bin/nvidia-smi" },
		{ &s->journal_directory, "" },
		{ &s->attestation_provider, "none" },
		{ &s->tsm_path, TSM_DEFAULT_ROOT },
	};
	for (size_t i = 0; i < ARRAY_SIZE(d); i++)
		if (!*d[i].p && set_str(d[i].p, d[i].v) < 0)
			return -ENOMEM;
	return 0;
}

struct settings *settings_load(const char *path, const struct settings_overrides *ov, char *err,
			       size_t errlen)
{
	struct settings *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	set_defaults(s);
	struct config_doc doc = { 0 };
	if (path) {
		s->config_path = strdup(path);
		struct config_error ce = { 0 };
		int rc = config_parse_file(path, &doc, &ce);
		if (rc < 0) {
			if (ce.line == 0 && ce.msg[0] == '\0')
				fail(err, errlen, path, 0, "%s", strerror(-rc));
			else
				fail(err, errlen, path, ce.line, "%s", ce.msg);
			goto fail;
		}
		/* [services.<id>] tables have fixed keys under a name the operator picks: add their
		 * rows to the key table for this document. */
		size_t nk = ARRAY_SIZE(keys);
		struct config_key *dyn = calloc(nk + 4 * (doc.n_tables + 1), sizeof(*dyn));
		if (!dyn)
			goto nomem;
		memcpy(dyn, keys, sizeof(keys));
		for (size_t t = 0; t < doc.n_tables; t++) {
			const char *tn = doc.tables[t].name;
			if (strncmp(tn, "services.", 9) != 0)
				continue;
			dyn[nk++] = (struct config_key){ tn, "unit", CONFIG_STRING, 0, 0 };
			dyn[nk++] = (struct config_key){ tn, "description", CONFIG_STRING, 0, 0 };
			dyn[nk++] =
				(struct config_key){ tn, "log_identifier", CONFIG_STRING, 0, 0 };
			dyn[nk++] = (struct config_key){ tn, "masked_ok", CONFIG_BOOL, 0, 0 };
		}
		rc = config_check(&doc, dyn, nk, &ce);
		free(dyn);
		if (rc < 0) {
			fail(err, errlen, path, ce.line, "%s", ce.msg);
			goto fail;
		}
		for (size_t i = 0; i < doc.n; i++) {
			const struct config_entry *e = &doc.entries[i];
			int rc2;
			if (strcmp(e->table, "actions") == 0)
				rc2 = add_action(s, e, path, err, errlen);
			else if (strcmp(e->table, "file_uploads") == 0)
				rc2 = add_upload(s, e, path, err, errlen);
			else if (strncmp(e->table, "services.", 9) == 0)
				rc2 = add_service_key(s, e, path, err, errlen);
			else if (strcmp(e->table, G) == 0 &&
				 strcmp(e->key, "tls_cert_hosts") == 0) {
				s->tls_cert_hosts = calloc(e->arr_len + 1, sizeof(char *));
				rc2 = s->tls_cert_hosts ? 0 : -ENOMEM;
				for (size_t k = 0; rc2 == 0 && k < e->arr_len; k++) {
					s->tls_cert_hosts[k] = strdup(e->arr[k]);
					s->n_tls_cert_hosts++;
					if (!s->tls_cert_hosts[k])
						rc2 = -ENOMEM;
				}
			} else
				rc2 = apply_scalar(s, e);
			if (rc2 < 0) {
				if (rc2 == -ENOMEM)
					fail(err, errlen, path, e->line, "out of memory");
				goto fail;
			}
		}
		if (check_services(s, &doc, path, err, errlen) < 0)
			goto fail;
		/* system-api: log_max_entries = 0 means the default. */
		if (s->log_max_entries == 0)
			s->log_max_entries = AGENT_EVENTS_MAX_ENTRIES_DEFAULT;
	}
	if (ov && ov->listen_addr && set_str(&s->listen_addr, ov->listen_addr) < 0)
		goto nomem;
	if (ov && ov->pipe_file && set_str(&s->pipe_file, ov->pipe_file) < 0)
		goto nomem;
	if (fill_defaults_str(s) < 0)
		goto nomem;
	if (s->n_services == 0 && default_services(s) < 0)
		goto nomem;
	if (!abs_path_ok(s->systemctl_path) || !abs_path_ok(s->journalctl_path) ||
	    !abs_path_ok(s->nvidia_smi_path) ||
	    (s->journal_directory[0] && !abs_path_ok(s->journal_directory))) {
		fail(err, errlen, path ? path : "settings", 0,
		     "[status] systemctl_path, journalctl_path, nvidia_smi_path and "
		     "journal_directory "
		     "must be absolute paths");
		goto fail;
	}
	if (check_attestation(s, path ? &doc : NULL, path ? path : "settings", err, errlen) < 0)
		goto fail;
	if (s->tls_enabled && (!s->tls_cert_path[0] || !s->tls_key_path[0])) {
		fail(err, errlen, path ? path : "settings", 0,
		     "tls_enabled needs tls_cert_path and tls_key_path");
		goto fail;
	}
	if (s->tls_client_ca_path[0] && !s->tls_enabled) {
		fail(err, errlen, path ? path : "settings", 0,
		     "tls_client_ca_path needs tls_enabled = true");
		goto fail;
	}
	if (check_client_trust(s, path ? &doc : NULL, path ? path : "settings", err, errlen) < 0)
		goto fail;
	config_doc_done(&doc);
	return s;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	config_doc_done(&doc);
	settings_free(s);
	return NULL;
}

void settings_free(struct settings *s)
{
	if (!s)
		return;
	char **strs[] = { &s->config_path,
			  &s->listen_addr,
			  &s->pipe_file,
			  &s->basic_auth_secret_path,
			  &s->tls_cert_path,
			  &s->tls_key_path,
			  &s->events_file,
			  &s->tls_client_ca_path,
			  &s->tls_client_crl_path,
			  &s->tls_client_cn,
			  &s->tls_client_crl_url,
			  &s->systemctl_path,
			  &s->journalctl_path,
			  &s->nvidia_smi_path,
			  &s->journal_directory,
			  &s->attestation_provider,
			  &s->tsm_path };
	for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
		free(*strs[i]);
	if (s->basic_auth_secret_salt) {
		explicit_bzero(s->basic_auth_secret_salt, strlen(s->basic_auth_secret_salt));
		free(s->basic_auth_secret_salt);
	}
	for (size_t i = 0; i < s->n_tls_cert_hosts; i++)
		free(s->tls_cert_hosts[i]);
	free(s->tls_cert_hosts);
	for (size_t i = 0; i < s->n_actions; i++) {
		free(s->actions[i].name);
		free(s->actions[i].command);
		free(s->actions[i].path);
		cmdsplit_free(s->actions[i].argv);
	}
	free(s->actions);
	for (size_t i = 0; i < s->n_uploads; i++) {
		free(s->uploads[i].name);
		free(s->uploads[i].path);
	}
	free(s->uploads);
	for (size_t i = 0; i < s->n_services; i++) {
		free(s->services[i].id);
		free(s->services[i].unit);
		free(s->services[i].description);
		free(s->services[i].log_identifier);
	}
	free(s->services);
	free(s);
}

const struct settings_action *settings_action(const struct settings *s, const char *name)
{
	for (size_t i = 0; i < s->n_actions; i++)
		if (strcmp(s->actions[i].name, name) == 0)
			return &s->actions[i];
	return NULL;
}

const struct settings_upload *settings_upload(const struct settings *s, const char *name)
{
	for (size_t i = 0; i < s->n_uploads; i++)
		if (strcmp(s->uploads[i].name, name) == 0)
			return &s->uploads[i];
	return NULL;
}

const struct settings_service *settings_service(const struct settings *s, const char *id)
{
	for (size_t i = 0; i < s->n_services; i++)
		if (strcmp(s->services[i].id, id) == 0)
			return &s->services[i];
	return NULL;
}
