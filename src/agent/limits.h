/*
 * limits.h - every bound cloister-agent enforces, with its unit. The config can lower a limit
 * (or pick a value inside the range); it can never raise one past the ceiling here.
 */
#ifndef CLOISTER_AGENT_LIMITS_H
#define CLOISTER_AGENT_LIMITS_H

/* Event log */
#define AGENT_EVENTS_MAX_ENTRIES_DEFAULT 1000 /* system-api's log_max_entries default */
#define AGENT_EVENTS_MAX_ENTRIES_CEILING 1000000
#define AGENT_EVENTS_MAX_BYTES_DEFAULT (16u << 20) /* message bytes kept */
#define AGENT_EVENTS_MAX_BYTES_CEILING (256u << 20)
#define AGENT_EVENT_MAX_BYTES_DEFAULT 4096 /* one message, also one pipe line */
#define AGENT_EVENT_MAX_BYTES_CEILING 4096
#define AGENT_EVENTS_PAGE_MAX 10000     /* ?limit= ceiling */
#define AGENT_EVENTS_FOLLOWERS_MAX 32   /* concurrent follow streams */
#define AGENT_FOLLOW_HEARTBEAT_MS 10000 /* an empty line on an idle follow stream */

/* Actions */
#define AGENT_ACTION_TIMEOUT_DEFAULT_MS 30000
#define AGENT_ACTION_TIMEOUT_CEILING_MS (3600 * 1000)
#define AGENT_ACTION_CONCURRENT_DEFAULT 4
#define AGENT_ACTION_CONCURRENT_CEILING 32
#define AGENT_ACTION_OUTPUT_DEFAULT_BYTES (64u * 1024) /* per stream returned */
#define AGENT_ACTION_OUTPUT_CEILING_BYTES (4u << 20)
#define AGENT_ACTION_EVENT_STDERR_BYTES 512 /* stderr quoted in a failure event */
#define AGENT_ACTIONS_MAX 256

/* Uploads */
#define AGENT_UPLOAD_MAX_DEFAULT_BYTES (64ull << 20)
#define AGENT_UPLOAD_MAX_CEILING_BYTES (4ull << 30)
#define AGENT_UPLOADS_MAX 256

/* Basic auth */
#define AGENT_PASSWORD_MAX_BYTES 1024
#define AGENT_AUTH_FREE_FAILURES 5    /* failures per address before slowing down */
#define AGENT_AUTH_BACKOFF_MAX_S 60   /* longest wait imposed on one address */
#define AGENT_AUTH_TRACKED_ADDRS 1024 /* addresses remembered for backoff */
#define AGENT_AUTH_CACHE_TTL_S 300    /* a verified password skips argon2id for this long */

/* System status (sek8s) */
#define AGENT_STATUS_TIMEOUT_DEFAULT_MS 10000 /* sek8s COMMAND_TIMEOUT_SECONDS */
#define AGENT_STATUS_TIMEOUT_CEILING_MS 60000
#define AGENT_STATUS_OUTPUT_DEFAULT_BYTES 16384 /* sek8s MAX_OUTPUT_BYTES */
#define AGENT_STATUS_OUTPUT_MIN_BYTES 1024
#define AGENT_STATUS_OUTPUT_CEILING_BYTES 1000000
#define AGENT_GPU_XML_MAX_BYTES (8u << 20) /* nvidia-smi -q -x of a large host */
#define AGENT_LOG_LINES_DEFAULT 200
#define AGENT_LOG_LINES_MAX_DEFAULT 1000 /* sek8s LOG_TAIL_MAX */
#define AGENT_LOG_LINES_CEILING 10000
#define AGENT_LOG_WINDOW_MAX_MINUTES 1440
#define AGENT_CACHE_TTL_DEFAULT_MS 2000 /* identical status calls within this share a run */
#define AGENT_CACHE_TTL_CEILING_MS 600000
#define AGENT_SERVICES_MAX 64
#define AGENT_CACHE_ENTRIES 256

/* HTTP */
#define AGENT_CONN_LIMIT_DEFAULT 256
#define AGENT_CONN_LIMIT_CEILING 4096
#define AGENT_PER_IP_LIMIT_DEFAULT 64
#define AGENT_CONN_TIMEOUT_DEFAULT_S 30
#define AGENT_HTTP_THREADS_DEFAULT 2
#define AGENT_HTTP_THREADS_CEILING 16

/* TLS */
#define AGENT_TLS_CERT_DAYS_DEFAULT 365
#define AGENT_TLS_RENEW_BEFORE_S (24 * 3600) /* regenerate our own cert this close to expiry */
#define AGENT_PEM_MAX_BYTES (256u * 1024)

/* Termination by the control plane (terminate.c) */
#define AGENT_EXIT_TERMINATED                                                                      \
	3 /* exit status after POST /api/v1/terminate (systemd:
				   RestartPreventExitStatus=3) */
#define AGENT_TERMINATE_BODY_MAX_BYTES 4096
#define AGENT_TERMINATE_REASON_MAX_BYTES 1024
#define AGENT_TERMINATE_EXIT_DELAY_MS 200 /* lets the reply leave before the server stops */

/* Attestation */
#define AGENT_ATTEST_NONCE_MAX_BYTES 64 /* GET /attestation?nonce=: 1..64 bytes, as hex */

#endif
