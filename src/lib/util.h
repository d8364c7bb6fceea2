/*
 * util.h - small helpers shared by every module of libcloister and the programs.
 *
 * Cleanup attributes (systemd style): a variable declared with _cleanup_free_ is freed when it
 * goes out of scope; TAKE_PTR hands ownership on and leaves NULL behind. Time helpers format
 * UTC timestamps the way flashbots system-api does (Go's RFC3339 and RFC3339Nano).
 * Everything here is thread-safe and allocation-free unless its comment says otherwise.
 */
#ifndef CLOISTER_UTIL_H
#define CLOISTER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline void util_freep(void *p)
{
	free(*(void **)p);
}
static inline void util_closep(int *fd)
{
	if (*fd >= 0)
		close(*fd);
}
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(util_freep)
#define _cleanup_close_ _cleanup_(util_closep)

/* Returns the pointer and sets the variable to NULL: ownership moves to the caller. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _tp = (p);                                                           \
		(p) = NULL;                                                                        \
		_tp;                                                                               \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _tf = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_tf;                                                                               \
	})

/* Wall clock and monotonic clock, in nanoseconds and milliseconds. */
int64_t util_now_ns(void);
int64_t util_mono_ms(void);

#define UTIL_TIME_BUF 40
/* Go time.RFC3339 in UTC: "2024-11-05T22:03:23Z". buf must hold UTIL_TIME_BUF bytes. */
void util_rfc3339(char *buf, int64_t unix_ns);
/* Go time.RFC3339Nano in UTC: fraction with trailing zeros removed, none when zero. */
void util_rfc3339_nano(char *buf, int64_t unix_ns);

/* Little-endian integers from a byte buffer (binary formats: SEV-SNP reports, TDX quotes). */
static inline uint16_t util_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}
static inline uint32_t util_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t util_le64(const uint8_t *p)
{
	return (uint64_t)util_le32(p) | (uint64_t)util_le32(p + 4) << 32;
}
/* ... and into one (the test fixtures that build reports and quotes). */
static inline void util_put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline void util_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void util_put_le64(uint8_t *p, uint64_t v)
{
	util_put_le32(p, (uint32_t)v);
	util_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* Formats a message into err (when err is non-NULL and errlen > 0) and returns rc: the one-line
 * "fail with a reason" of the parsers. */
int util_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Parses an unsigned decimal integer that fills the whole string (no sign, no spaces, no
 * leading '+'), at most max. Returns 0 or -EINVAL / -ERANGE. */
int util_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* A growable byte buffer for building replies: appends never fail visibly; on ENOMEM the
 * buffer is marked (oom) and later appends are ignored, so a renderer checks once at the end.
 * p is NUL-terminated after any append; the caller frees p. */
struct util_buf {
	char *p;
	size_t len, cap;
	bool oom;
};
void util_buf_put(struct util_buf *b, const void *s, size_t n);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void util_hex(char *out, const unsigned char *in, size_t n);
/* Decodes exactly 2n hex chars into out. Returns 0 or -EINVAL. */
int util_unhex(unsigned char *out, size_t n, const char *hex, size_t hexlen);

/* True when the n bytes are valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool util_utf8_valid(const char *s, size_t n);

#endif
