/*
 * pipe.h - reads event messages from a named pipe (FIFO), one per line.
 *
 * This is system-api's `pipe_file` input: local processes write lines to the FIFO and each line
 * becomes an event. The agent's main starts one reader and hands each sanitised line to
 * events_append, syncing the log at each batch end. Unlike system-api, the reader uses no CPU
 * while idle (it blocks in open() while there is no writer and in poll() while writers are
 * connected), never spins after the last writer closes, delivers a last line that has no
 * newline when its writer closes, and bounds line length and memory.
 *
 * Lines are split on "\n"; a trailing "\r" is removed; empty lines are skipped; invalid UTF-8 and
 * control characters become U+FFFD (events_sanitize). A line longer than max_line bytes delivers
 * its first max_line bytes (cut on a character boundary) and the rest, up to the newline, is
 * discarded.
 *
 * Ownership: pipe_reader_start hands out a reader that the caller stops (and frees) with
 * pipe_reader_stop. Callbacks run on the reader's own thread, one at a time; the message passed
 * to on_line is borrowed for the duration of the call. The FIFO itself is left in place.
 * Thread safety: start and stop from one controlling thread; pipe_reader_tid from any.
 *
 * Limits: max_line in 1..PIPE_LINE_MAX_BYTES; the read buffer is max_line + PIPE_READ_CHUNK_BYTES;
 * a batch ends after at most PIPE_BATCH_MAX_READS reads even while a writer keeps the pipe full,
 * so on_batch_end (the log's fdatasync) still runs under a steady stream.
 */
#ifndef CLOISTER_AGENT_PIPE_H
#define CLOISTER_AGENT_PIPE_H

#include <stddef.h>
#include <sys/types.h>

#include "agent/events.h"

#define PIPE_LINE_MAX_BYTES EVENTS_MESSAGE_MAX_BYTES
#define PIPE_READ_CHUNK_BYTES (64u * 1024u)
#define PIPE_BATCH_MAX_READS 64
#define PIPE_FIFO_MODE 0620 /* owner reads and writes, group writes */
#define PIPE_RETRY_MS 1000  /* wait before reopening after an unexpected error */

struct pipe_reader;

/* Creates the FIFO if missing (mode PIPE_FIFO_MODE whatever the umask); if the path exists it
 * must be a FIFO (symlinks are followed), else -EEXIST. Starts a thread that calls
 * on_line(ud, msg, len) for each sanitised line (len >= 1, msg not NUL-terminated) and, after each
 * read batch that delivered lines, on_batch_end(ud) (may be NULL). Returns 0 and *out, or
 * -EINVAL (NULL path or on_line, max_line 0), -E2BIG (max_line > PIPE_LINE_MAX_BYTES), -EEXIST,
 * -ENOMEM or another -errno (mkfifo, thread creation). */
int pipe_reader_start(const char *path, size_t max_line,
		      void (*on_line)(void *ud, const char *msg, size_t len),
		      void (*on_batch_end)(void *ud), void *ud, struct pipe_reader **out);

/* Stops the thread (whether it waits for a writer, for data, or is in a callback), joins it and
 * frees the reader. A partial line still buffered is dropped. NULL ok. */
void pipe_reader_stop(struct pipe_reader *pr);

/* The reader thread's kernel thread id (for /proc/self/task/<tid>/stat in tests and metrics). */
pid_t pipe_reader_tid(struct pipe_reader *pr);

#endif
