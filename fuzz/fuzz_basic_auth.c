/*
 * fuzz_basic_auth.c - libFuzzer harness for the Authorization: Basic parser.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/basic_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *hdr = malloc(size + 1);
	if (!hdr)
		return 0;
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	char user[64], pass[256];
	size_t plen = 0;
	if (http_basic_auth_parse(hdr, user, sizeof(user), pass, sizeof(pass), &plen) == 0) {
		/* Postconditions: both parts fit and are terminated; no ':' in the user. */
		if (strlen(user) >= sizeof(user) || plen >= sizeof(pass) || strchr(user, ':'))
			abort();
	}
	free(hdr);
	return 0;
}
