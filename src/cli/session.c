/*
 * session.c - the stored login of the cloister CLI (see session.h).
 *
 * Loading opens the file once and checks the open descriptor (fstat: regular file, owner, no
 * group/other bits) before reading from that same descriptor, so the checked file is the one
 * read even if the path is swapped meanwhile. Saving serialises with jansson into memory,
 * hands the bytes to fsx_write_atomic (temp file, fsync, rename, directory fsync) with mode
 * 0600, and wipes the serialised copy: tokens never linger in freed heap memory.
 */
#include "cli/session.h"

#include "fsx.h"
#include "json.h"
#include "secret.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void wipe_str(char *s)
{
	if (s) {
		secret_wipe(s, strlen(s));
		free(s);
	}
}

void session_done(struct session *s)
{
	if (!s)
		return;
	wipe_str(s->access_token);
	wipe_str(s->refresh_token);
	free(s->server);
	free(s->username);
	free(s->cacert);
	*s = (struct session){ 0 };
}

int session_set(char **slot, const char *v)
{
	char *n = NULL;
	if (v && !(n = strdup(v)))
		return -ENOMEM;
	wipe_str(*slot);
	*slot = n;
	return 0;
}

bool session_token_valid(const char *t, size_t len)
{
	if (len == 0 || len > SESSION_TOKEN_MAX_BYTES)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return false;
	return true;
}

int session_path(char **out)
{
	*out = NULL;
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char *p = NULL;
	int n;
	/* The XDG spec: a relative XDG_CONFIG_HOME is invalid and must be ignored. */
	if (xdg && xdg[0] == '/')
		n = asprintf(&p, "%s/cloister/session.json", xdg);
	else if (home && home[0] == '/')
		n = asprintf(&p, "%s/.config/cloister/session.json", home);
	else
		return -ENOENT;
	if (n < 0)
		return -ENOMEM;
	if ((size_t)n >= PATH_MAX) {
		free(p);
		return -ENAMETOOLONG;
	}
	*out = p;
	return 0;
}

/* Copies the string member key of doc into *slot. A missing member is -EINVAL when required,
 * else leaves *slot NULL. */
static int take_string(json_t *doc, const char *key, bool required, size_t max, char **slot)
{
	json_t *v = json_object_get(doc, key);
	if (!v)
		return required ? -EINVAL : 0;
	if (!json_is_string(v))
		return -EINVAL;
	size_t len = json_string_length(v);
	if (len > max)
		return -E2BIG;
	/* A NUL inside would make the C string say something else than the file. */
	if (len == 0 || memchr(json_string_value(v), '\0', len))
		return -EINVAL;
	*slot = strndup(json_string_value(v), len);
	return *slot ? 0 : -ENOMEM;
}

static bool url_ok(const char *u)
{
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	for (const char *p = u; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

int session_parse(const char *buf, size_t len, struct session *s)
{
	*s = (struct session){ 0 };
	if (len > SESSION_FILE_MAX_BYTES)
		return -E2BIG;
	json_error_t jerr;
	json_t *doc = json_parse_strict(buf, len, &jerr);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -EINVAL;
	}
	int rc = take_string(doc, "server", true, SESSION_STRING_MAX_BYTES, &s->server);
	if (rc == 0)
		rc = take_string(doc, "username", true, SESSION_USERNAME_MAX_BYTES, &s->username);
	if (rc == 0)
		rc = take_string(doc, "access_token", true, SESSION_TOKEN_MAX_BYTES,
				 &s->access_token);
	if (rc == 0)
		rc = take_string(doc, "refresh_token", true, SESSION_TOKEN_MAX_BYTES,
				 &s->refresh_token);
	if (rc == 0)
		rc = take_string(doc, "cacert", false, SESSION_STRING_MAX_BYTES, &s->cacert);
	if (rc == 0 &&
	    (!url_ok(s->server) || !session_token_valid(s->access_token, strlen(s->access_token)) ||
	     !session_token_valid(s->refresh_token, strlen(s->refresh_token))))
		rc = -EPROTO;
	json_decref(doc);
	if (rc < 0)
		session_done(s);
	return rc;
}

int session_load(const char *path, struct session *s)
{
	*s = (struct session){ 0 };
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (st.st_uid != geteuid())
		return -EPERM;
	if (st.st_mode & 077)
		return -EACCES;
	if (st.st_size > (off_t)SESSION_FILE_MAX_BYTES)
		return -E2BIG;
	char *buf = malloc(SESSION_FILE_MAX_BYTES + 1);
	if (!buf)
		return -ENOMEM;
	size_t n = 0;
	int rc = 0;
	for (;;) {
		if (n > SESSION_FILE_MAX_BYTES) {
			rc = -E2BIG; /* it grew after fstat */
			break;
		}
		ssize_t r = read(fd, buf + n, SESSION_FILE_MAX_BYTES + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (rc == 0)
		rc = session_parse(buf, n, s);
	secret_wipe(buf, SESSION_FILE_MAX_BYTES + 1);
	free(buf);
	return rc;
}

/* mkdir with mode 0700; an existing directory is fine. */
static int mkdir_private(const char *dir)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	return -errno;
}

/* Creates the directory of path and, when that is missing too, its parent: the config home
 * ("~/.config") may not exist yet on a fresh account. */
static int make_dirs(const char *path)
{
	char dir[PATH_MAX];
	size_t n = strlen(path);
	if (n >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, n + 1);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	int rc = mkdir_private(dir);
	if (rc != -ENOENT)
		return rc;
	char *up = strrchr(dir, '/');
	if (!up || up == dir)
		return rc;
	*up = '\0';
	rc = mkdir_private(dir);
	*up = '/';
	return rc < 0 ? rc : mkdir_private(dir);
}

int session_save(const char *path, const struct session *s)
{
	if (!s->server || !s->username || !s->access_token || !s->refresh_token)
		return -EINVAL;
	json_t *doc = json_pack("{s:s,s:s,s:s,s:s}", "server", s->server, "username", s->username,
				"access_token", s->access_token, "refresh_token", s->refresh_token);
	if (doc && s->cacert && json_object_set_new(doc, "cacert", json_string(s->cacert)) < 0) {
		json_decref(doc);
		doc = NULL;
	}
	if (!doc)
		return -EINVAL; /* a string that is not UTF-8, or ENOMEM */
	/* Sized first, so the tokens are serialised once, into a buffer that is wiped. */
	size_t len = json_dumpb(doc, NULL, 0, JSON_INDENT(2));
	char *text = len ? malloc(len + 1) : NULL;
	if (!text) {
		json_decref(doc);
		return -ENOMEM;
	}
	if (json_dumpb(doc, text, len, JSON_INDENT(2)) != len) {
		json_decref(doc);
		secret_wipe(text, len + 1);
		free(text);
		return -ENOMEM;
	}
	json_decref(doc);
	/* One trailing newline, as an editor would leave it. */
	text[len] = '\n';
	int rc = make_dirs(path);
	if (rc == 0)
		rc = fsx_write_atomic(path, text, len + 1, 0600);
	secret_wipe(text, len + 1);
	free(text);
	return rc;
}

int session_remove(const char *path)
{
	if (unlink(path) < 0)
		return -errno;
	(void)fsx_fsync_dir(path); /* the file is gone either way; durability is best effort */
	return 0;
}
