/*
 * uploads.c - POST /api/v1/file-upload/{name}: the raw body goes to the destination configured
 * for name in [file_uploads], and nowhere else.
 *
 * The body is streamed (never held whole in memory) into a temp file in the destination's
 * directory while a SHA-256 runs over it; at the end the file is fsynced and renamed over the
 * destination and the directory fsynced (fsx_atomic_*). Past upload_max_bytes the request gets
 * 413 and the temp file is removed, so a failed upload leaves no partial file and no event.
 * An existing destination keeps its permission bits; a new one is created 0600 (system-api used
 * 0644, but uploads are often keys and secrets).
 */
#include "agent/agent.h"
#include "agent/metrics.h"
#include "fsx.h"
#include "util.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

struct upload_ctx {
	const struct settings_upload *up;
	struct fsx_atomic f;
	bool open;
	EVP_MD_CTX *md;
	uint64_t size;
	bool committed;
};

static void ctx_free(struct upload_ctx *u)
{
	if (!u)
		return;
	if (u->open)
		fsx_atomic_abort(&u->f);
	EVP_MD_CTX_free(u->md);
	free(u);
}

int uploads_begin(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	const char *name = http_req_param(req, "name");
	const struct settings_upload *up = name ? settings_upload(a->cfg, name) : NULL;
	if (!up) {
		http_reply_error(req, 400, "Specified file upload not configured");
		return -1;
	}
	struct upload_ctx *u = calloc(1, sizeof(*u));
	if (!u || !(u->md = EVP_MD_CTX_new()) ||
	    EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1) {
		ctx_free(u);
		http_reply_error(req, 500, "out of memory");
		return -1;
	}
	u->up = up;
	mode_t mode = 0600;
	struct stat st;
	if (stat(up->path, &st) == 0)
		mode = st.st_mode & 07777;
	int rc = fsx_atomic_open(&u->f, up->path, mode);
	if (rc < 0) {
		metrics_upload(a, up->name, "failure", 0);
		ctx_free(u);
		char msg[512];
		snprintf(msg, sizeof(msg), "Failed to write content to file: %s", strerror(-rc));
		http_reply_error(req, 500, msg);
		return -1;
	}
	u->open = true;
	http_req_set_ctx(req, u);
	return 0;
}

int uploads_chunk(struct http_req *req, const char *data, size_t len)
{
	struct agent *a = http_req_app(req);
	struct upload_ctx *u = http_req_ctx(req);
	if (!u)
		return -1;
	if (u->size + len > (uint64_t)a->cfg->upload_max_bytes) {
		http_reply_error(req, 413, "upload larger than upload_max_bytes");
		return -1;
	}
	int rc = fsx_atomic_write(&u->f, data, len);
	if (rc < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Failed to write content to file: %s", strerror(-rc));
		http_reply_error(req, 500, msg);
		return -1;
	}
	EVP_DigestUpdate(u->md, data, len);
	u->size += len;
	return 0;
}

void uploads_finish(struct http_req *req)
{
	struct agent *a = http_req_app(req);
	struct upload_ctx *u = http_req_ctx(req);
	if (!u) {
		/* No body at all: begin ran, but a zero-length body still means an empty file. */
		http_reply_error(req, 500, "upload state missing");
		return;
	}
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_DigestFinal_ex(u->md, md, &mdlen);
	int rc = fsx_atomic_commit(&u->f);
	u->open = false;
	if (rc < 0) {
		char msg[256];
		snprintf(msg, sizeof(msg), "Failed to write content to file: %s", strerror(-rc));
		http_reply_error(req, 500, msg);
		return;
	}
	u->committed = true;
	metrics_upload(a, u->up->name, "success", u->size);
	char hex[65];
	util_hex(hex, md, 32);
	agent_event(a, "[system-api] file upload: %s = %s", u->up->name, u->up->path);
	agent_event(a, "[system-api] file upload success: %s = %s - content: %llu bytes",
		    u->up->name, u->up->path, (unsigned long long)u->size);
	char size[24];
	snprintf(size, sizeof(size), "%llu", (unsigned long long)u->size);
	http_reply_json(req, 200,
			json_pack("{s:s,s:s,s:s,s:s}", "message", "File uploaded successfully",
				  "file", u->up->path, "size_bytes", size, "sha256", hex));
}

void uploads_cleanup(struct http_req *req)
{
	struct upload_ctx *u = http_req_ctx(req);
	if (u && !u->committed)
		metrics_upload(http_req_app(req), u->up->name, "failure", 0);
	ctx_free(u);
	http_req_set_ctx(req, NULL);
}
