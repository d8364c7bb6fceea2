/*
 * terminate.c - POST /api/v1/terminate: cloisterd ends this backend (Prism's termination,
 * issue 7).
 *
 *   {"type":0|1,"reason"?:"..."}   0 = certificate revocation, 1 = user initiated
 *   200 {"terminated":true}        the event is recorded, running actions are killed, and the
 *                                  agent then stops and exits with AGENT_EXIT_TERMINATED
 *   400 malformed body, unknown key, wrong type, type not 0/1, reason too long
 *   403 "termination needs mutual TLS": the agent has no client CA, or the request did not come
 *       over TLS with a verified client certificate (the HTTP layer already refuses an
 *       unverified one when a client CA is set)
 *
 * Order matters: the event is durable before anything is stopped, so the record survives even
 * if stopping goes wrong; actions are killed next (their process groups: proc_run puts every
 * child in its own group, and this process's children that lead their own group are exactly
 * those), then the reply is sent, and only after AGENT_TERMINATE_EXIT_DELAY_MS does a SIGTERM
 * to ourselves wake main's sigwait, which stops the server (finishing the reply) and returns
 * terminate_exit_status(0). A second call while stopping answers the same 200.
 */
#include "agent/agent.h"
#include "agent/limits.h"
#include "json.h"
#include "log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_bool terminated;

int terminate_exit_status(int normal_rc)
{
	return atomic_load(&terminated) ? AGENT_EXIT_TERMINATED : normal_rc;
}

/* ppid and pgrp of pid from /proc/<pid>/stat; 0 or -1. */
static int proc_ids(long pid, long *ppid, long *pgrp)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid pgrp ...": comm may hold spaces and ')', so start after the
	 * last ')'. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2] || p[3] != ' ')
		return -1;
	char *end;
	errno = 0;
	*ppid = strtol(p + 4, &end, 10);
	if (errno || *end != ' ')
		return -1;
	*pgrp = strtol(end + 1, &end, 10);
	if (errno || *end != ' ')
		return -1;
	return 0;
}

/* Kills the process groups our children lead (actions, status commands); returns the count. */
static unsigned kill_child_groups(void)
{
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	long self = (long)getpid(), own_group = (long)getpgrp();
	unsigned n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		char *end;
		errno = 0;
		long pid = strtol(e->d_name, &end, 10);
		if (errno || *end || pid <= 0)
			continue;
		long ppid, pgrp;
		if (proc_ids(pid, &ppid, &pgrp) < 0 || ppid != self || pgrp != pid ||
		    pgrp == own_group)
			continue;
		if (kill((pid_t)-pgrp, SIGKILL) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void *exit_later(void *arg)
{
	(void)arg;
	struct timespec ts = { AGENT_TERMINATE_EXIT_DELAY_MS / 1000,
			       (AGENT_TERMINATE_EXIT_DELAY_MS % 1000) * 1000000L };
	nanosleep(&ts, NULL);
	kill(getpid(), SIGTERM); /* main's sigwait takes it: an orderly stop */
	return NULL;
}

/* Parses the body; false after replying 400. */
static bool parse_body(struct http_req *req, int *type, char *reason, size_t cap)
{
	size_t len = 0;
	const char *body = http_req_body(req, &len);
	json_error_t je;
	json_t *o = json_parse_strict(body ? body : "", len, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		http_reply_error(req, 400,
				 "body must be a JSON object {\"type\":0|1,\"reason\":\"...\"}");
		return false;
	}
	const char *key;
	json_t *v;
	bool have_type = false;
	reason[0] = '\0';
	json_object_foreach(o, key, v)
	{
		char msg[160];
		if (strcmp(key, "type") == 0) {
			json_int_t t = json_is_integer(v) ? json_integer_value(v) : -1;
			if (t != 0 && t != 1) {
				json_decref(o);
				http_reply_error(req, 400,
						 "type must be 0 (certificate revocation) or 1 "
						 "(user initiated)");
				return false;
			}
			*type = (int)t;
			have_type = true;
		} else if (strcmp(key, "reason") == 0) {
			size_t rl = json_string_length(v);
			if (!json_is_string(v) || rl > AGENT_TERMINATE_REASON_MAX_BYTES ||
			    rl >= cap) {
				json_decref(o);
				snprintf(msg, sizeof(msg),
					 "reason must be a string of at most %d bytes",
					 AGENT_TERMINATE_REASON_MAX_BYTES);
				http_reply_error(req, 400, msg);
				return false;
			}
			memcpy(reason, json_string_value(v), rl);
			reason[rl] = '\0';
		} else {
			char k[64];
			json_utf8_lossy(key, strlen(key), k, sizeof(k));
			snprintf(msg, sizeof(msg), "unknown key \"%s\"", k);
			json_decref(o);
			http_reply_error(req, 400, msg);
			return false;
		}
	}
	json_decref(o);
	if (!have_type) {
		http_reply_error(req, 400, "type is required");
		return false;
	}
	return true;
}

void terminate_handle(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	if (!a->cfg->tls_enabled || !a->cfg->tls_client_ca_path[0] || !http_req_is_tls(req) ||
	    !http_req_peer_subject(req)) {
		http_reply_error(req, 403, "termination needs mutual TLS");
		return;
	}
	int type = 1;
	char reason[AGENT_TERMINATE_REASON_MAX_BYTES + 1];
	if (!parse_body(req, &type, reason, sizeof(reason)))
		return;
	if (atomic_exchange(&terminated, true)) {
		http_reply_json(req, 200, json_pack("{s:b}", "terminated", 1));
		return;
	}
	const char *what = type == 0 ? "certificate revocation" : "user initiated";
	agent_event(a, "[system-api] terminated by the control plane: %s%s%s", what,
		    reason[0] ? ": " : "", reason);
	unsigned killed = kill_child_groups();
	char nk[16];
	snprintf(nk, sizeof(nk), "%u", killed);
	log_kv(CLOG_WARN, "terminated by the control plane", "type", what, "reason", reason,
	       "client", http_req_peer_subject(req), "killed_groups", nk, NULL);
	http_reply_json(req, 200, json_pack("{s:b}", "terminated", 1));
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &at, exit_later, NULL) != 0)
		kill(getpid(), SIGTERM); /* the reply may be cut short; the exit status is kept */
	pthread_attr_destroy(&at);
}
