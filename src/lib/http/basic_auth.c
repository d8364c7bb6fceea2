/*
 * http/basic_auth.c - Basic credentials parser (see basic_auth.h). Decoding uses libsodium's
 * constant-time base64 decoder, and the decoded bytes are wiped before returning.
 */
#include "http/basic_auth.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <strings.h>

int http_basic_auth_parse(const char *hdr, char *user, size_t ucap, char *pass, size_t pcap,
			  size_t *pass_len)
{
	if (!hdr || ucap == 0 || pcap == 0)
		return -EINVAL;
	size_t hlen = strnlen(hdr, HTTP_BASIC_AUTH_MAX_BYTES + 1);
	if (hlen > HTTP_BASIC_AUTH_MAX_BYTES)
		return -E2BIG;
	if (hlen < 6 || strncasecmp(hdr, "Basic ", 6) != 0)
		return -EINVAL;
	const char *b64 = hdr + 6;
	while (*b64 == ' ')
		b64++;
	size_t blen = strlen(b64);
	while (blen > 0 && b64[blen - 1] == ' ')
		blen--;
	if (blen == 0)
		return -EINVAL;
	unsigned char dec[HTTP_BASIC_AUTH_MAX_BYTES];
	size_t dlen = 0;
	const char *end = NULL;
	int rc = -EINVAL;
	if (sodium_base642bin(dec, sizeof(dec), b64, blen, NULL, &dlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + blen)
		goto out;
	if (memchr(dec, '\0', dlen))
		goto out;
	const unsigned char *colon = memchr(dec, ':', dlen);
	if (!colon)
		goto out;
	size_t ulen = (size_t)(colon - dec), plen = dlen - ulen - 1;
	if (ulen + 1 > ucap || plen + 1 > pcap) {
		rc = -E2BIG;
		goto out;
	}
	memcpy(user, dec, ulen);
	user[ulen] = '\0';
	memcpy(pass, colon + 1, plen);
	pass[plen] = '\0';
	*pass_len = plen;
	rc = 0;
out:
	sodium_memzero(dec, sizeof(dec));
	return rc;
}
