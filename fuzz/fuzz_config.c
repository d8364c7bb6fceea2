/*
 * fuzz_config.c - libFuzzer harness for the TOML-subset parser: parse arbitrary bytes, and on
 * success look every entry up again and run the schema checker, then free everything.
 */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

static const struct config_key fuzz_keys[] = {
	{ "general", "listen_addr", CONFIG_STRING, 0, 0 },
	{ "general", "log_max_entries", CONFIG_INT, 0, 100000 },
	{ "general", "tls_cert_hosts", CONFIG_STRING_ARRAY, 0, 0 },
	{ "general", "log_json", CONFIG_BOOL, 0, 0 },
	{ "actions", NULL, CONFIG_STRING, 0, 0 },
	{ "a.b", "k", CONFIG_INT, -5, 5 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_doc doc;
	struct config_error err;
	if (config_parse((const char *)data, size, &doc, &err) == 0) {
		for (size_t i = 0; i < doc.n; i++)
			if (config_find(&doc, doc.entries[i].table, doc.entries[i].key) !=
			    &doc.entries[i])
				__builtin_trap();
		(void)config_table_count(&doc);
		(void)config_check(&doc, fuzz_keys, sizeof(fuzz_keys) / sizeof(fuzz_keys[0]), &err);
	}
	config_doc_done(&doc);
	return 0;
}
