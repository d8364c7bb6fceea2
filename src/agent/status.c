/*
 * status.c - the chutes sek8s "System Status" API inside cloister-agent: systemd service status
 * and logs, nvidia-smi output, the overview, and (beyond sek8s) structured GPU data.
 *
 *   GET /health                         {"status":"ok"}
 *   GET /services                       the allowlist ([services.<id>] or sek8s's default five)
 *   GET /services/{id}/status           systemctl show, sek8s field names, health rule
 *   GET /services/{id}/logs?lines=&since_minutes=
 *                                       journalctl -q --since=@<epoch> (works on systemd 252),
 *                                       exit code checked, newest lines kept when over the cap
 *   GET /gpu/nvidia-smi?detail=&gpu=    sek8s's output object
 *   GET /gpu                            per-GPU JSON parsed from nvidia-smi -q -x (expat)
 *   GET /overview                       ok/degraded; a VM configured without a GPU is not
 *                                       degraded by a missing nvidia-smi
 *
 * Commands run through proc_run (no shell, own process group killed on timeout, capped output)
 * behind a memo: results are reused for cache_ttl_ms and concurrent identical requests share one
 * run. Errors have sek8s's {"detail": ...} shape: 404 unknown id, 422 bad query, 502
 * command_failed, 503 missing_binary, 504 timeout; raw stderr of a failed command is never
 * returned (the sek8s design says so; its code leaks it).
 */
#include "agent/agent.h"
#include "agent/limits.h"
#include "agent/metrics.h"
#include "agent/status.h"
#include "json.h"
#include "memo.h"
#include "nvsmi.h"
#include "proc.h"
#include "sysd.h"
#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define STATUS_ARGV_MAX 16

/* ---------------------------------------------------------------- command runner */

/* Serialised proc result kept in the memo: this header, then out, then err. */
struct cmd_blob {
	int rc;
	int exit_code;
	int timed_out;
	int out_trunc, err_trunc;
	int64_t duration_ms;
	size_t out_len, err_len;
};

struct run_ctx {
	struct agent *a;
	const char *label;
	const char *path;
	char *const *argv;
	size_t out_max;
	bool keep_tail;
};

static int run_fill(void *ud, void **value, size_t *len)
{
	struct run_ctx *c = ud;
	struct proc_opts o = {
		.path = c->path,
		.argv = c->argv,
		.timeout_ms = (int)c->a->cfg->command_timeout_ms,
		.stdout_max = c->out_max,
		.stderr_max = (size_t)c->a->cfg->max_output_bytes,
		.keep_tail = c->keep_tail,
	};
	struct proc_result r = { 0 };
	int rc = proc_run(&o, &r);
	const char *result = rc == -ENOENT ? "missing"
			     : rc < 0      ? "error"
			     : r.timed_out ? "timeout"
			     : r.exit_code ? "failed"
					   : "ok";
	metrics_command(c->a, c->label, result, rc < 0 ? 0 : r.duration_ms);
	size_t ol = rc < 0 ? 0 : r.out_len, el = rc < 0 ? 0 : r.err_len;
	struct cmd_blob *b = malloc(sizeof(*b) + ol + el);
	if (!b) {
		proc_result_done(&r);
		return -ENOMEM;
	}
	*b = (struct cmd_blob){ .rc = rc,
				.exit_code = rc < 0 ? -1 : r.exit_code,
				.timed_out = rc < 0 ? 0 : r.timed_out,
				.out_trunc = rc < 0 ? 0 : r.out_truncated,
				.err_trunc = rc < 0 ? 0 : r.err_truncated,
				.duration_ms = rc < 0 ? 0 : r.duration_ms,
				.out_len = ol,
				.err_len = el };
	if (ol)
		memcpy((char *)(b + 1), r.out, ol);
	if (el)
		memcpy((char *)(b + 1) + ol, r.err, el);
	proc_result_done(&r);
	*value = b;
	*len = sizeof(*b) + ol + el;
	/* A command that could not run or ran out of time is reported to this flight's callers but
	 * not cached: the next request tries again. */
	return rc < 0 || b->timed_out ? MEMO_FILL_TRANSIENT : 0;
}

struct cmd_out {
	struct cmd_blob *b;
	const char *out, *err;
};

static void cmd_out_done(struct cmd_out *o)
{
	free(o->b);
	o->b = NULL;
}

/* Runs argv (argv[0] is the label shown in errors) through the memo. Returns 0 with *o filled
 * (check o->b->rc, exit_code, timed_out) or -ENOMEM. */
static int run_cmd(struct agent *a, const char *path, char *const *argv, size_t out_max,
		   bool keep_tail, struct cmd_out *o)
{
	/* The key is a digest of the whole argv, so long unit names never collide or overflow
	 * the memo's key limit. */
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 32);
	for (size_t i = 0; argv[i]; i++)
		crypto_generichash_update(&st, (const unsigned char *)argv[i], strlen(argv[i]) + 1);
	unsigned char d[32];
	crypto_generichash_final(&st, d, sizeof(d));
	char key[65];
	util_hex(key, d, sizeof(d));
	struct run_ctx ctx = { a, argv[0], path, argv, out_max, keep_tail };
	void *val = NULL;
	size_t len = 0;
	bool hit = false;
	int rc = memo_get(a->memo, key, a->cfg->cache_ttl_ms, run_fill, &ctx, &val, &len, &hit);
	if (rc < 0)
		return rc;
	o->b = val;
	o->out = (const char *)(o->b + 1);
	o->err = o->out + o->b->out_len;
	return 0;
}

/* The sek8s error detail for a command that did not succeed, or NULL when it ran and exited 0.
 * *status gets the HTTP status. */
static json_t *cmd_error(const struct cmd_out *o, const char *label, unsigned *status)
{
	if (o->b->rc == -ENOENT || o->b->rc == -EACCES) {
		*status = 503;
		return json_pack("{s:s,s:s}", "error", "missing_binary", "binary", label);
	}
	if (o->b->rc < 0) {
		*status = 500;
		return json_pack("{s:s,s:s,s:s}", "error", "spawn_failed", "command", label,
				 "message", strerror(-o->b->rc));
	}
	if (o->b->timed_out) {
		*status = 504;
		return json_pack("{s:s,s:s}", "error", "timeout", "command", label);
	}
	if (o->b->exit_code != 0) {
		*status = 502;
		return json_pack("{s:s,s:s,s:i}", "error", "command_failed", "command", label,
				 "exit_code", o->b->exit_code);
	}
	return NULL;
}

static void reply_detail(struct http_req *req, unsigned status, json_t *detail)
{
	http_reply_json(req, status, json_pack("{s:o}", "detail", detail));
}

static void reply_detail_str(struct http_req *req, unsigned status, const char *msg)
{
	reply_detail(req, status, json_string(msg));
}

/* FastAPI/pydantic's 422 shape: {"detail":[{"type","loc":["query",name],"msg","input"}]} */
static void reply_422(struct http_req *req, const char *name, const char *type, const char *msg,
		      const char *input)
{
	reply_detail(req, 422,
		     json_pack("[{s:s,s:[s,s],s:s,s:s?}]", "type", type, "loc", "query", name,
			       "msg", msg, "input", input));
}

/* ---------------------------------------------------------------- query parsing */

/* Integer query argument: absent -> def; not an integer -> 422. Returns 0 or -1 (replied). */
static int query_int(struct http_req *req, const char *name, long long def, long long *out)
{
	const char *v = http_req_query(req, name);
	if (!v) {
		*out = def;
		return 0;
	}
	const char *p = v;
	bool neg = *p == '-';
	if (neg || *p == '+')
		p++;
	uint64_t u;
	if (util_parse_u64(p, (uint64_t)INT64_MAX, &u) < 0) {
		reply_422(req, name, "int_parsing",
			  "Input should be a valid integer, unable to parse string as an integer",
			  v);
		return -1;
	}
	*out = neg ? -(long long)u : (long long)u;
	return 0;
}

/* pydantic's lax bool: true/false, 1/0, yes/no, on/off, t/f, y/n (any case). */
static int query_bool(struct http_req *req, const char *name, bool def, bool *out)
{
	static const char *yes[] = { "true", "1", "yes", "on", "t", "y" };
	static const char *no[] = { "false", "0", "no", "off", "f", "n" };
	const char *v = http_req_query(req, name);
	if (!v) {
		*out = def;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	reply_422(req, name, "bool_parsing",
		  "Input should be a valid boolean, unable to interpret input", v);
	return -1;
}

/* ---------------------------------------------------------------- services */

static json_t *service_json(const struct settings_service *sv, bool with_desc)
{
	if (with_desc)
		return json_pack("{s:s,s:s,s:s}", "id", sv->id, "unit", sv->unit, "description",
				 sv->description ? sv->description : "");
	return json_pack("{s:s,s:s}", "id", sv->id, "unit", sv->unit);
}

void status_health(struct http_req *req)
{
	http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void status_services(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	json_t *arr = json_array();
	for (size_t i = 0; i < a->cfg->n_services; i++)
		json_array_append_new(arr, service_json(&a->cfg->services[i], true));
	http_reply_json(req, 200, json_pack("{s:o}", "services", arr));
}

/* Status object of one service: {"service","status","healthy","error"}. On a command problem
 * returns NULL with *detail and *status set (the caller replies or, in the overview, embeds). */
static json_t *service_status(struct agent *a, const struct settings_service *sv, json_t **detail,
			      unsigned *status)
{
	char unit[300];
	snprintf(unit, sizeof(unit), "%s", sv->unit);
	char *argv[] = { "systemctl",
			 "show",
			 unit,
			 "--no-pager",
			 "--property=Id",
			 "--property=LoadState",
			 "--property=ActiveState",
			 "--property=SubState",
			 "--property=MainPID",
			 "--property=ExecMainStatus",
			 "--property=ExecMainCode",
			 "--property=UnitFileState",
			 NULL };
	struct cmd_out o = { 0 };
	*detail = NULL;
	if (run_cmd(a, a->cfg->systemctl_path, argv, (size_t)a->cfg->max_output_bytes, false, &o) <
	    0) {
		*status = 500;
		*detail = json_pack("{s:s}", "error", "out_of_memory");
		return NULL;
	}
	*detail = cmd_error(&o, "systemctl", status);
	if (*detail) {
		cmd_out_done(&o);
		return NULL;
	}
	struct sysd_show show = { 0 };
	int rc = sysd_parse_show(o.out, o.b->out_len, &show);
	cmd_out_done(&o);
	if (rc < 0 || show.n == 0) {
		*status = 502;
		*detail = json_pack("{s:s,s:s}", "error", "parse_failed", "command", "systemctl");
		sysd_show_done(&show);
		return NULL;
	}
	json_t *st = sysd_status_json(&show.units[0]);
	bool healthy = sysd_healthy(&show.units[0], sv->masked_ok);
	sysd_show_done(&show);
	return json_pack("{s:o,s:o,s:b,s:n}", "service", service_json(sv, true), "status", st,
			 "healthy", healthy, "error");
}

void status_service_status(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	const struct settings_service *sv = settings_service(a->cfg, http_req_param(req, "id"));
	if (!sv) {
		reply_detail_str(req, 404, "service not allowed");
		return;
	}
	json_t *detail;
	unsigned status;
	json_t *obj = service_status(a, sv, &detail, &status);
	if (!obj) {
		reply_detail(req, status, detail);
		return;
	}
	http_reply_json(req, 200, obj);
}

void status_service_logs(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	const struct settings_service *sv = settings_service(a->cfg, http_req_param(req, "id"));
	if (!sv) {
		reply_detail_str(req, 404, "service not allowed");
		return;
	}
	long long lines, since;
	if (query_int(req, "lines", AGENT_LOG_LINES_DEFAULT, &lines) < 0 ||
	    query_int(req, "since_minutes", 0, &since) < 0)
		return;
	if (lines < 1) {
		reply_422(req, "lines", "greater_than_equal",
			  "Input should be greater than or equal to 1",
			  http_req_query(req, "lines"));
		return;
	}
	bool has_since = http_req_query(req, "since_minutes") != NULL;
	if (has_since && (since < 1 || since > AGENT_LOG_WINDOW_MAX_MINUTES)) {
		reply_422(req, "since_minutes",
			  since < 1 ? "greater_than_equal" : "less_than_equal",
			  since < 1 ? "Input should be greater than or equal to 1"
				    : "Input should be less than or equal to 1440",
			  http_req_query(req, "since_minutes"));
		return;
	}
	long long clamped = lines > a->cfg->log_lines_max ? a->cfg->log_lines_max : lines;
	char match[320], nlines[32], since_arg[48], dir[300];
	if (sv->log_identifier)
		snprintf(match, sizeof(match), "--identifier=%s", sv->log_identifier);
	else
		snprintf(match, sizeof(match), "--unit=%s", sv->unit);
	snprintf(nlines, sizeof(nlines), "--lines=%lld", clamped);
	char *argv[STATUS_ARGV_MAX] = { "journalctl",     match, "--no-pager",
					"--output=short", "-q",  nlines };
	size_t n = 6;
	if (has_since) {
		/* Rounded down to the minute so repeated calls share the cache. */
		int64_t now_s = util_now_ns() / 1000000000LL;
		snprintf(since_arg, sizeof(since_arg), "--since=@%lld",
			 (long long)((now_s - since * 60) / 60 * 60));
		argv[n++] = since_arg;
	}
	if (a->cfg->journal_directory[0]) {
		snprintf(dir, sizeof(dir), "--directory=%s", a->cfg->journal_directory);
		argv[n++] = dir;
	}
	argv[n] = NULL;
	struct cmd_out o = { 0 };
	if (run_cmd(a, a->cfg->journalctl_path, argv, (size_t)a->cfg->max_output_bytes, true, &o) <
	    0) {
		reply_detail_str(req, 500, "out of memory");
		return;
	}
	unsigned status;
	json_t *detail = cmd_error(&o, "journalctl", &status);
	if (detail) {
		cmd_out_done(&o);
		reply_detail(req, status, detail);
		return;
	}
	json_t *logs = json_array();
	const char *p = o.out, *end = o.out + o.b->out_len;
	/* With the tail kept, the first line may be a fragment: drop it. */
	if (o.b->out_trunc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		if (le > p)
			json_array_append_new(logs, json_string_lossy(p, (size_t)(le - p)));
		p = nl ? nl + 1 : end;
	}
	bool trunc = o.b->out_trunc;
	cmd_out_done(&o);
	http_reply_json(req, 200,
			json_pack("{s:o,s:I,s:I,s:b,s:o}", "service", service_json(sv, false),
				  "requested_lines", (json_int_t)lines, "returned_lines",
				  (json_int_t)json_array_size(logs), "stdout_truncated", trunc,
				  "logs", logs));
}

/* ---------------------------------------------------------------- GPU */

static json_t *split_lines(const char *s, size_t len)
{
	json_t *arr = json_array();
	const char *p = s, *end = s + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		json_array_append_new(arr, json_string_lossy(p, (size_t)(le - p)));
		p = nl ? nl + 1 : end;
	}
	return arr;
}

/* sek8s's nvidia-smi object, or NULL with *detail / *status for missing binary / timeout. */
static json_t *nvidia_smi_obj(struct agent *a, bool detail_flag, const char *gpu, json_t **detail,
			      unsigned *status)
{
	char *argv[6] = { "nvidia-smi" };
	size_t n = 1;
	char idx[24];
	if (detail_flag)
		argv[n++] = "-q";
	if (strcmp(gpu, "all") != 0) {
		snprintf(idx, sizeof(idx), "%s", gpu);
		argv[n++] = "-i";
		argv[n++] = idx;
	}
	argv[n] = NULL;
	struct cmd_out o = { 0 };
	*detail = NULL;
	if (run_cmd(a, a->cfg->nvidia_smi_path, argv, (size_t)a->cfg->max_output_bytes, false, &o) <
	    0) {
		*status = 500;
		*detail = json_pack("{s:s}", "error", "out_of_memory");
		return NULL;
	}
	if (o.b->rc < 0 || o.b->timed_out) {
		*detail = cmd_error(&o, "nvidia-smi", status);
		cmd_out_done(&o);
		return NULL;
	}
	json_t *cmd = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(cmd, json_string(argv[i]));
	json_t *obj = json_pack(
		"{s:o,s:i,s:o,s:o,s:o,s:o,s:b,s:b,s:b,s:s,s:s}", "command", cmd, "exit_code",
		o.b->exit_code, "stdout", json_string_lossy(o.out, o.b->out_len), "stderr",
		json_string_lossy(o.err, o.b->err_len), "stdout_lines",
		split_lines(o.out, o.b->out_len), "stderr_lines", split_lines(o.err, o.b->err_len),
		"stdout_truncated", o.b->out_trunc, "stderr_truncated", o.b->err_trunc, "detail",
		detail_flag, "gpu", gpu, "status", o.b->exit_code == 0 ? "ok" : "error");
	cmd_out_done(&o);
	return obj;
}

/* Validates ?gpu=: "all" or a non-negative integer. Returns 0, or -1 after replying 400. */
static int gpu_param(struct http_req *req, const char **gpu)
{
	const char *g = http_req_query(req, "gpu");
	*gpu = g ? g : "all";
	if (strcmp(*gpu, "all") == 0)
		return 0;
	const char *p = *gpu;
	bool neg = *p == '-';
	if (neg || *p == '+')
		p++;
	uint64_t v;
	int rc = util_parse_u64(p, 1u << 20, &v);
	if (rc == -EINVAL) {
		reply_detail_str(req, 400, "gpu must be an integer or 'all'");
		return -1;
	}
	if (neg && v > 0) {
		reply_detail_str(req, 400, "gpu must be non-negative");
		return -1;
	}
	if (rc < 0) {
		reply_detail_str(req, 400, "gpu index out of range");
		return -1;
	}
	return 0;
}

void status_nvidia_smi(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	bool detail_flag;
	const char *gpu;
	if (query_bool(req, "detail", false, &detail_flag) < 0 || gpu_param(req, &gpu) < 0)
		return;
	/* Canonical index ("007" and "7" are the same GPU, and one cache entry). */
	char canon[24];
	if (strcmp(gpu, "all") != 0) {
		uint64_t v = 0;
		util_parse_u64(gpu[0] == '+' || gpu[0] == '-' ? gpu + 1 : gpu, 1u << 20, &v);
		snprintf(canon, sizeof(canon), "%llu", (unsigned long long)v);
	}
	json_t *detail;
	unsigned status;
	json_t *obj = nvidia_smi_obj(a, detail_flag, strcmp(gpu, "all") ? canon : "all", &detail,
				     &status);
	if (!obj) {
		reply_detail(req, status, detail);
		return;
	}
	/* sek8s echoes the gpu parameter as given. */
	json_object_set_new(obj, "gpu", json_string(gpu));
	http_reply_json(req, 200, obj);
}

int status_gpu_report(struct agent *a, struct nvsmi_report *rep, json_t **detail, unsigned *status)
{
	char *argv[] = { "nvidia-smi", "-q", "-x", NULL };
	struct cmd_out o = { 0 };
	*detail = NULL;
	if (run_cmd(a, a->cfg->nvidia_smi_path, argv, AGENT_GPU_XML_MAX_BYTES, false, &o) < 0) {
		*status = 500;
		*detail = json_pack("{s:s}", "error", "out_of_memory");
		return -ENOMEM;
	}
	*detail = cmd_error(&o, "nvidia-smi", status);
	if (*detail) {
		cmd_out_done(&o);
		return -EIO;
	}
	if (o.b->out_trunc) {
		cmd_out_done(&o);
		*status = 502;
		*detail = json_pack("{s:s,s:s,s:s}", "error", "parse_failed", "command",
				    "nvidia-smi", "message", "output larger than the XML limit");
		return -E2BIG;
	}
	char err[256] = "";
	int rc = nvsmi_parse_xml(o.out, o.b->out_len, rep, err, sizeof(err));
	cmd_out_done(&o);
	if (rc < 0) {
		nvsmi_report_done(rep);
		*status = 502;
		*detail = json_pack("{s:s,s:s,s:s}", "error", "parse_failed", "command",
				    "nvidia-smi", "message", err[0] ? err : "invalid XML");
		return rc;
	}
	return 0;
}

int status_gpu_use(struct agent *a, void (*use)(const struct nvsmi_report *rep, void *ud), void *ud,
		   json_t **detail, unsigned *status)
{
	pthread_mutex_lock(&a->gpu.mu);
	int64_t now = util_mono_ms();
	if (!a->gpu.valid || now - a->gpu.at_ms >= a->cfg->cache_ttl_ms) {
		struct nvsmi_report *rep = calloc(1, sizeof(*rep));
		if (!rep) {
			pthread_mutex_unlock(&a->gpu.mu);
			*status = 500;
			*detail = json_pack("{s:s}", "error", "out_of_memory");
			return -ENOMEM;
		}
		int rc = status_gpu_report(a, rep, detail, status);
		if (rc < 0) {
			free(rep);
			pthread_mutex_unlock(&a->gpu.mu);
			return rc;
		}
		if (a->gpu.rep) {
			nvsmi_report_done(a->gpu.rep);
			free(a->gpu.rep);
		}
		a->gpu.rep = rep;
		a->gpu.valid = true;
		a->gpu.at_ms = now;
	}
	use(a->gpu.rep, ud);
	pthread_mutex_unlock(&a->gpu.mu);
	return 0;
}

void status_gpu_done(struct agent *a)
{
	if (a->gpu.rep) {
		nvsmi_report_done(a->gpu.rep);
		free(a->gpu.rep);
		a->gpu.rep = NULL;
	}
	a->gpu.valid = false;
}

static void gpu_to_json(const struct nvsmi_report *rep, void *ud)
{
	*(json_t **)ud = nvsmi_report_json(rep);
}

void status_gpu(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	if (!a->cfg->gpu) {
		reply_detail(
			req, 404,
			json_pack("{s:s,s:s}", "error", "no_gpu", "message",
				  "this agent is configured without a GPU ([status] gpu = false)"));
		return;
	}
	json_t *j = NULL, *detail = NULL;
	unsigned status;
	if (status_gpu_use(a, gpu_to_json, &j, &detail, &status) < 0) {
		reply_detail(req, status, detail);
		return;
	}
	if (!j) {
		reply_detail_str(req, 500, "out of memory");
		return;
	}
	http_reply_json(req, 200, j);
}

/* ---------------------------------------------------------------- overview */

struct svc_job {
	struct agent *a;
	const struct settings_service *sv;
	json_t *result;
	pthread_t t;
	bool started;
};

static void *svc_job_main(void *arg)
{
	struct svc_job *j = arg;
	json_t *detail;
	unsigned status;
	j->result = service_status(j->a, j->sv, &detail, &status);
	if (!j->result)
		j->result = json_pack("{s:o,s:n,s:b,s:o}", "service", service_json(j->sv, true),
				      "status", "healthy", false, "error", detail);
	return NULL;
}

/* Python's datetime.now(timezone.utc).isoformat(): microseconds unless zero, "+00:00". */
static void iso_utc(char *buf, size_t cap)
{
	int64_t ns = util_now_ns();
	time_t s = (time_t)(ns / 1000000000LL);
	long us = (long)(ns % 1000000000LL) / 1000;
	struct tm tm;
	gmtime_r(&s, &tm);
	char base[32];
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (us)
		snprintf(buf, cap, "%s.%06ld+00:00", base, us);
	else
		snprintf(buf, cap, "%s+00:00", base);
}

void status_overview(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	size_t n = a->cfg->n_services;
	struct svc_job *jobs = calloc(n ? n : 1, sizeof(*jobs));
	if (!jobs) {
		reply_detail_str(req, 500, "out of memory");
		return;
	}
	/* Services are checked concurrently, as sek8s does; each call is bounded by its timeout. */
	for (size_t i = 0; i < n; i++) {
		jobs[i] = (struct svc_job){ .a = a, .sv = &a->cfg->services[i] };
		jobs[i].started = pthread_create(&jobs[i].t, NULL, svc_job_main, &jobs[i]) == 0;
		if (!jobs[i].started)
			svc_job_main(&jobs[i]);
	}
	json_t *gpu = json_null();
	bool gpu_ok = true;
	if (a->cfg->gpu) {
		json_t *detail;
		unsigned status;
		json_t *obj = nvidia_smi_obj(a, false, "all", &detail, &status);
		if (obj) {
			gpu_ok = json_integer_value(json_object_get(obj, "exit_code")) == 0;
			json_decref(gpu);
			gpu = obj;
		} else {
			gpu_ok = false;
			json_decref(gpu);
			gpu = json_pack("{s:s,s:o}", "status", "error", "error", detail);
		}
	}
	bool all_ok = gpu_ok;
	json_t *services = json_array();
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].started)
			pthread_join(jobs[i].t, NULL);
		if (!json_is_true(json_object_get(jobs[i].result, "healthy")))
			all_ok = false;
		json_array_append_new(services, jobs[i].result);
	}
	free(jobs);
	char ts[64];
	iso_utc(ts, sizeof(ts));
	http_reply_json(req, 200,
			json_pack("{s:s,s:o,s:o,s:s}", "status", all_ok ? "ok" : "degraded",
				  "services", services, "gpu", gpu, "timestamp", ts));
}
