/*
 * fuzz_cmdsplit.c - libFuzzer harness for cmdsplit: split arbitrary bytes (cut at the first NUL,
 * as a C string would be) and check the result's shape, then free it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdsplit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmd = malloc(size + 1);
	if (!cmd)
		return 0;
	memcpy(cmd, data, size);
	cmd[size] = '\0';
	char **argv = NULL;
	char msg[128];
	int n = cmdsplit(cmd, &argv, msg, sizeof(msg));
	if (n > 0) {
		if (n > CMDSPLIT_MAX_WORDS || argv[n] != NULL)
			__builtin_trap();
		for (int i = 0; i < n; i++)
			if (strlen(argv[i]) > strlen(cmd))
				__builtin_trap();
	} else if (argv != NULL || msg[0] == '\0') {
		__builtin_trap();
	}
	cmdsplit_free(argv);
	free(cmd);
	return 0;
}
