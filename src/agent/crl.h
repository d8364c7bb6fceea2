/*
 * crl.h - keeps the agent's client CRL current without a restart (issue 7).
 *
 * With [cloister] tls_client_crl_url set, the CRL is fetched with libcurl (http or https, no
 * redirects, at most AGENT_CRL_MAX_BYTES, AGENT_CRL_FETCH_TIMEOUT_S) every
 * tls_client_crl_refresh_s seconds and written atomically to tls_client_crl_path. Whether
 * fetched or replaced by an operator, the file is reloaded into the running HTTP server
 * (http_server_reload_client_crl) when its inode, size or mtime change (checked every
 * AGENT_CRL_FILE_POLL_MS). A CRL is installed only when it parses, is signed by the first
 * certificate of tls_client_ca_path, and (when fetched) does not carry a lower crlNumber than
 * the one in force; anything else is logged and the last good CRL stays.
 *
 * Used by main.c. Thread safety: one background thread; start/stop from the main thread.
 */
#ifndef CLOISTER_AGENT_CRL_H
#define CLOISTER_AGENT_CRL_H

#include <stddef.h>

#include "agent/settings.h"
#include "http/server.h"

#define AGENT_CRL_REFRESH_DEFAULT_S 300
#define AGENT_CRL_REFRESH_MIN_S 10
#define AGENT_CRL_REFRESH_MAX_S 86400
#define AGENT_CRL_URL_MAX_BYTES 2048
#define AGENT_CRL_MAX_BYTES (4u << 20)
#define AGENT_CRL_FETCH_TIMEOUT_S 10
#define AGENT_CRL_FILE_POLL_MS 1000
#define AGENT_CLIENT_CN_MAX_BYTES 64

/* Before the server starts: with a URL, fetches the CRL once into tls_client_crl_path. A failed
 * fetch is fine when a CRL file is already there (logged, the old one is used); without one it
 * is an error (the agent would otherwise accept revoked clients). 0 or -errno with err. */
int agent_crl_prefetch(const struct settings *cfg, char *err, size_t errlen);

struct agent_crl;
/* Starts the watcher (and fetcher) thread when cfg has a client CRL path; *out NULL otherwise. */
int agent_crl_start(const struct settings *cfg, struct http_server *http, struct agent_crl **out,
		    char *err, size_t errlen);
/* Stops and joins the thread. NULL ok. */
void agent_crl_stop(struct agent_crl *c);

#endif
