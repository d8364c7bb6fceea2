/*
 * log.h - structured log lines (logfmt-like text or one JSON object per line).
 *
 * Used only at the programs' edges (main loops, request handlers of cloister-agent and
 * cloisterd); the rest of libcloister never logs. A line is a message plus key/value string
 * pairs; every value is escaped so that hostile input (a header, a file name, a command's
 * output) can neither forge a second line nor break the JSON: invalid UTF-8 bytes are written
 * as \xNN in both formats.
 *
 * Thread safety: log_kv may be called from any number of threads; each line leaves in one
 * write(2) under a process-wide lock, so lines never interleave. log_setup and log_set_fd are
 * meant to be called once at startup (they are safe to race with log_kv, but a line written
 * during the switch may use either setting).
 *
 * Limits: a line, newline included, is at most LOG_LINE_MAX_BYTES; the value that crosses the
 * limit is cut and ends with "...", later pairs are dropped and the line ends with
 * log_truncated=true. The program name is cut to LOG_PROGRAM_MAX_BYTES.
 */
#ifndef CLOISTER_LOG_H
#define CLOISTER_LOG_H

#include <stdbool.h>

#define LOG_LINE_MAX_BYTES 8192
#define LOG_PROGRAM_MAX_BYTES 63

enum log_level { CLOG_ERROR = 0, CLOG_WARN, CLOG_INFO, CLOG_DEBUG };

/* program: name shown on every line (copied; NULL keeps "cloister"). json: one JSON object per
 * line instead of text. debug: also emit CLOG_DEBUG lines. Defaults: text, info, "cloister". */
void log_setup(const char *program, bool json, bool debug);

/* Where lines go: default 2 (stderr). The fd is borrowed, never closed. For tests. */
void log_set_fd(int fd);

/* Writes one line: msg plus NULL-terminated key/value string pairs, e.g.
 *   log_kv(CLOG_INFO, "listening", "addr", "127.0.0.1:3535", "tls", "on", NULL);
 * text: 2026-11-26T00:00:01.123Z INFO cloister-agent: listening addr=127.0.0.1:3535 tls=on
 *   A value is double-quoted when it is empty or holds a space, '"', '=', '\', a control
 *   character or bytes that are not valid UTF-8; inside quotes \" \\ \n \r \t and \xNN are
 *   used. The message and the program name are never quoted but escaped the same way. Keys
 *   keep [A-Za-z0-9_.-] and have any other byte replaced by '_'.
 * json: {"time":"...","level":"info","program":"cloister-agent","msg":"listening","addr":"..."}
 *   A NULL value is written as JSON null (text: key=(null)).
 * errno is preserved; write errors are ignored (there is nowhere to report them). */
void log_kv(enum log_level lvl, const char *msg, ...) __attribute__((sentinel));

#endif
