/*
 * limits.h - every bound the cloister CLI enforces, with its unit.
 *
 * The CLI talks to daemons that may be compromised or simply wrong, so everything it reads from
 * them, and every secret it reads from a file or a terminal, has a ceiling here.
 */
#ifndef CLOISTER_CLI_LIMITS_H
#define CLOISTER_CLI_LIMITS_H

#define CLI_RESPONSE_MAX_BYTES (64u << 20)   /* one collected response body */
#define CLI_STREAM_LINE_MAX_BYTES (1u << 20) /* one NDJSON line of a follow stream */
#define CLI_PASSWORD_MAX_BYTES 1024          /* a password file or stdin (the agent's cap) */
#define CLI_ERROR_MESSAGE_MAX_BYTES 512      /* an error message quoted from a reply */
#define CLI_URL_MAX_BYTES 8192               /* base URL plus path and query */
#define CLI_TIMEOUT_DEFAULT_S 60             /* whole request, unless --timeout */
#define CLI_TIMEOUT_MAX_S 86400
#define CLI_CONNECT_TIMEOUT_S 10 /* TCP + TLS handshake, also for follow streams */

#endif
