/*
 * settings.h - cloister-agent's configuration: an unmodified flashbots system-api
 * `systemapi-config.toml` ([general], [actions], [file_uploads]) plus our own keys in
 * [cloister], [status] and [attestation]. Unknown keys, wrong types and out-of-range values are errors with file:line, so a
 * typo never silently disables a protection. Command-line flags override the file.
 *
 * Ownership: settings_load returns a struct the caller frees with settings_free. Read-only
 * after load, so any thread may read it.
 */
#ifndef CLOISTER_AGENT_SETTINGS_H
#define CLOISTER_AGENT_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct settings_action {
	char *name;
	char *command; /* as written in the config (a string, or the argv joined by spaces) */
	char *path;    /* resolved absolute executable */
	char **argv;   /* NULL-terminated */
};

struct settings_upload {
	char *name;
	char *path; /* absolute destination */
};

struct settings_service {
	char *id;
	char *unit; /* systemd unit, e.g. "k3s.service" */
	char *description;
	char *log_identifier; /* NULL: logs by unit; else journalctl --identifier */
	bool masked_ok;       /* a masked unit counts as healthy */
};

struct settings {
	char *config_path;
	/* [general], system-api's keys */
	char *listen_addr;
	char *pipe_file;
	bool log_json, log_debug, pprof;
	long long log_max_entries;
	char *basic_auth_secret_path;
	char *basic_auth_secret_salt;
	long long http_read_timeout_ms, http_write_timeout_ms;
	bool tls_enabled, tls_create_if_missing;
	char **tls_cert_hosts;
	size_t n_tls_cert_hosts;
	char *tls_cert_path, *tls_key_path;

	/* [cloister], ours */
	char *events_file; /* "" = memory only */
	long long events_max_bytes;
	long long event_max_bytes;
	long long action_timeout_ms;
	long long action_max_concurrent;
	long long action_output_max_bytes;
	bool actions_allow_get;   /* system-api triggers actions with GET */
	bool new_event_allow_get; /* system-api records events with GET */
	long long upload_max_bytes;
	bool auth_allow_first_secret_over_network; /* system-api's trust on first use */
	char *tls_client_ca_path;                  /* mTLS: only clients with a cert from this CA */
	char *tls_client_crl_path;
	char *tls_client_cn;                /* "" = any subject; else exactly this CN (cloisterd) */
	bool tls_client_require_eku;        /* client certificates must list clientAuth */
	char *tls_client_crl_url;           /* "" = none; else fetched into tls_client_crl_path */
	long long tls_client_crl_refresh_s; /* fetch interval */
	long long tls_cert_days;
	long long max_connections;
	long long max_connections_per_ip;
	long long connection_timeout_s;
	long long http_threads;

	/* [status]: systemd and GPU status (chutes sek8s System Status API) */
	char *systemctl_path, *journalctl_path, *nvidia_smi_path;
	char *journal_directory; /* "" = the system journal */
	bool gpu;                /* false: a VM without a GPU */
	long long command_timeout_ms;
	long long max_output_bytes;
	long long log_lines_max;
	long long cache_ttl_ms;
	struct settings_service *services;
	size_t n_services;

	/* [attestation]: evidence for GET /attestation */
	char *attestation_provider; /* "none" (development only) or "configfs-tsm" */
	char *tsm_path;             /* absolute: the configfs-tsm report directory */
	long long tsm_privlevel;    /* -1: the kernel's default; else 0..3 (SNP VMPL) */

	struct settings_action *actions;
	size_t n_actions;
	struct settings_upload *uploads;
	size_t n_uploads;
};

struct settings_overrides {
	const char *listen_addr;
	const char *pipe_file;
};

/* Loads path (NULL: defaults only) and applies the overrides. On error returns NULL and writes
 * "file:line: message" into err. */
struct settings *settings_load(const char *path, const struct settings_overrides *ov, char *err,
			       size_t errlen);
void settings_free(struct settings *s);
const struct settings_action *settings_action(const struct settings *s, const char *name);
const struct settings_upload *settings_upload(const struct settings *s, const char *name);
const struct settings_service *settings_service(const struct settings *s, const char *id);

#endif
