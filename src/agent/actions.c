/*
 * actions.c - POST (and, for old clients, GET) /api/v1/actions/{name}.
 *
 * An action is an argv fixed in the config, resolved to an absolute executable at start-up; the
 * request cannot add arguments. It runs through proc_run: no shell, its own process group, a
 * timeout that kills the whole group, stdout and stderr captured up to a cap. The route is a
 * blocking one, so the command runs on a worker thread while the connection is suspended. A
 * counter caps concurrent actions (429 past it). Start, success and failure are recorded in the
 * event log with system-api's wording, and the reply carries the exit code, the duration and
 * the captured output (system-api never returned stdout).
 */
#include "agent/agent.h"
#include "agent/limits.h"
#include "agent/metrics.h"
#include "json.h"
#include "proc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_t *result_json(const struct settings_action *act, const struct proc_result *r)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	json_object_set_new(o, "action", json_string(act->name));
	json_object_set_new(o, "exit_code",
			    r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
	if (r->term_signal)
		json_object_set_new(o, "signal", json_integer(r->term_signal));
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
	json_object_set_new(o, "stdout", json_string_lossy(r->out ? r->out : "", r->out_len));
	json_object_set_new(o, "stderr", json_string_lossy(r->err ? r->err : "", r->err_len));
	json_object_set_new(o, "stdout_truncated", json_boolean(r->out_truncated));
	json_object_set_new(o, "stderr_truncated", json_boolean(r->err_truncated));
	return o;
}

static bool take_slot(struct agent *a)
{
	bool ok = false;
	pthread_mutex_lock(&a->lock);
	if (a->actions_running < (unsigned)a->cfg->action_max_concurrent) {
		a->actions_running++;
		ok = true;
	}
	pthread_mutex_unlock(&a->lock);
	return ok;
}

static void give_slot(struct agent *a)
{
	pthread_mutex_lock(&a->lock);
	a->actions_running--;
	pthread_mutex_unlock(&a->lock);
}

void actions_handle(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	if (http_req_method_bit(req) != HTTP_POST && !a->cfg->actions_allow_get) {
		http_reply_header(req, "Allow", "POST");
		http_reply_error(req, 405,
				 "Actions must be triggered with POST (actions_allow_get = false)");
		return;
	}
	const char *name = http_req_param(req, "name");
	const struct settings_action *act = name ? settings_action(a->cfg, name) : NULL;
	if (!act) {
		http_reply_error(req, 400, "Specified action not configured");
		return;
	}
	if (!take_slot(a)) {
		metrics_action(a, act->name, "busy");
		http_reply_header(req, "Retry-After", "1");
		http_reply_error(req, 429, "Too many actions running; retry later");
		return;
	}
	agent_event(a, "[system-api] executing action: %s = %s", act->name, act->command);
	struct proc_opts o = {
		.path = act->path,
		.argv = act->argv,
		.timeout_ms = (int)a->cfg->action_timeout_ms,
		.stdout_max = (size_t)a->cfg->action_output_max_bytes,
		.stderr_max = (size_t)a->cfg->action_output_max_bytes,
	};
	struct proc_result r = { 0 };
	int rc = proc_run(&o, &r);
	give_slot(a);
	if (rc < 0) {
		metrics_action(a, act->name, "error");
		agent_event(a, "[system-api] error executing action: %s - error: %s", act->name,
			    strerror(-rc));
		char msg[256];
		snprintf(msg, sizeof(msg), "Failed to execute action: %s - error: %s", act->name,
			 strerror(-rc));
		http_reply_error(req, rc == -ENOENT || rc == -EACCES ? 503 : 500, msg);
		proc_result_done(&r);
		return;
	}
	json_t *body = result_json(act, &r);
	if (r.exit_code == 0 && !r.timed_out) {
		metrics_action(a, act->name, "success");
		agent_event(a, "[system-api] executing action success: %s = %s", act->name,
			    act->command);
		json_object_set_new(body, "message", json_string("Action executed successfully"));
		http_reply_json(req, 200, body);
	} else {
		char why[96];
		if (r.timed_out)
			snprintf(why, sizeof(why), "timed out after %lld ms",
				 a->cfg->action_timeout_ms);
		else if (r.term_signal)
			snprintf(why, sizeof(why), "signal: %s", strsignal(r.term_signal));
		else
			snprintf(why, sizeof(why), "exit status %d", r.exit_code);
		size_t elen = r.err_len < AGENT_ACTION_EVENT_STDERR_BYTES
				      ? r.err_len
				      : AGENT_ACTION_EVENT_STDERR_BYTES;
		metrics_action(a, act->name, r.timed_out ? "timeout" : "failure");
		agent_event(a, "[system-api] error executing action: %s - error: %s (stderr: %.*s)",
			    act->name, why, (int)elen, r.err ? r.err : "");
		char msg[256];
		snprintf(msg, sizeof(msg), "Failed to execute action: %s - error: %s", act->name,
			 why);
		unsigned status = r.timed_out ? 504 : 500;
		json_object_set_new(body, "code", json_integer(status));
		json_object_set_new(body, "message", json_string(msg));
		http_reply_json(req, status, body);
	}
	proc_result_done(&r);
}
