/*
 * attest/tdx_policy.c - Intel TDX attestation policies: the "tdx_policy" object of a policy file
 * and its evaluation against a verified quote (declarations and the file format in tdx.h).
 *
 * The file is read as attest_policy_load_json reads it for the SNP parser (integers past
 * INT64_MAX as strings, duplicate keys refused), so one file serves both TEEs. Every member of
 * tdx_policy is dispatched by name in file order and an unknown one is refused, naming it: a
 * typo must never silently disable a check. The other top-level keys belong to the SNP parser;
 * here only their names are checked (and "allow_unattested" recorded).
 *
 * Byte values are hex (2N digits) or base64: for the sizes used (8, 16, 48, 64) the two text
 * lengths never coincide, so the length picks the decoding. Evaluation lists every check with
 * pass / fail / skipped, like snp_policy_evaluate; DEBUG is always enforced (refused unless
 * allow_debug), and the accepted TCB statuses default to UpToDate only.
 */
#include "attest/policy.h"
#include "attest/tdx.h"
#include "json.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#define TDX_TD_ATTR_DEBUG 1ull

__attribute__((format(printf, 3, 4))) static int perr(char *err, size_t errlen, const char *fmt,
						      ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A key name for a message: printable ASCII only, shortened. */
static void safe_key(char *out, size_t cap, const char *k)
{
	size_t o = 0;
	for (size_t i = 0; k[i] && o + 1 < cap; i++)
		out[o++] = (k[i] >= 0x20 && k[i] < 0x7f) ? k[i] : '?';
	out[o] = '\0';
}

static bool is_hex_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* n bytes from hex (2n digits) or padded base64 (4 * ceil(n / 3) chars); "" or null: unset. */
static int get_bytes(json_t *v, size_t n, struct tdx_policy_bytes *out, const char *field,
		     char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return perr(err, errlen, "tdx_policy.%s: want a string (hex or base64)", field);
	const char *s = json_string_value(v);
	size_t sl = json_string_length(v);
	if (sl == 0)
		return 0;
	if (sl == 2 * n) {
		bool hex = true;
		for (size_t i = 0; i < sl && hex; i++)
			hex = is_hex_char(s[i]);
		if (hex && util_unhex(out->v, n, s, sl) == 0) {
			out->set = true;
			return 0;
		}
	}
	size_t b64 = 4 * ((n + 2) / 3);
	if (sl == b64) {
		uint8_t buf[96];
		size_t pad = (3 - n % 3) % 3;
		bool ok = true;
		for (size_t i = 0; i < sl && ok; i++) {
			char c = s[i];
			ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '+' || c == '/' ||
			     (c == '=' && i >= sl - pad);
		}
		for (size_t i = sl - pad; i < sl && ok; i++)
			ok = s[i] == '=';
		if (ok &&
		    EVP_DecodeBlock(buf, (const unsigned char *)s, (int)sl) == (int)(b64 / 4 * 3)) {
			memcpy(out->v, buf, n);
			out->set = true;
			return 0;
		}
	}
	return perr(err, errlen,
		    "tdx_policy.%s: want %zu bytes as %zu hex digits or %zu base64 "
		    "characters",
		    field, n, 2 * n, b64);
}

static int hex_u64(const char *s, size_t n, uint64_t *out)
{
	if (n == 0 || n > 16)
		return -EINVAL;
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			return -EINVAL;
		v = v << 4 | d;
	}
	*out = v;
	return 0;
}

/* A JSON integer >= 0, or a "0x..." or decimal string (big values arrive as strings). */
static int get_u64(json_t *v, uint64_t *out, const char *field, char *err, size_t errlen)
{
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
		    hex_u64(s + 2, n - 2, out) == 0)
			return 0;
		if (n > 0 && n < 21 && util_parse_u64(s, UINT64_MAX, out) == 0)
			return 0;
	}
	return perr(err, errlen,
		    "tdx_policy.%s: want an unsigned 64-bit integer (a JSON integer, or a decimal "
		    "or 0x-hex string)",
		    field);
}

static int parse_statuses(json_t *v, struct tdx_policy *p, char *err, size_t errlen)
{
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0 ||
	    json_array_size(v) > TDX_TCB_STATUS_COUNT - 1)
		return perr(err, errlen,
			    "tdx_policy.accepted_tcb_statuses: want an array of 1..%d status names",
			    TDX_TCB_STATUS_COUNT - 1);
	p->accepted_statuses = 0;
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		enum tdx_tcb_status st = json_is_string(e)
						 ? tdx_tcb_status_from_name(json_string_value(e),
									    json_string_length(e))
						 : TDX_TCB_UNKNOWN;
		if (st == TDX_TCB_UNKNOWN)
			return perr(err, errlen,
				    "tdx_policy.accepted_tcb_statuses[%zu]: not one of UpToDate, "
				    "SWHardeningNeeded, ConfigurationNeeded, "
				    "ConfigurationAndSWHardeningNeeded, OutOfDate, "
				    "OutOfDateConfigurationNeeded, Revoked",
				    i);
		p->accepted_statuses |= 1u << st;
	}
	p->has_accepted_statuses = true;
	return 0;
}

static int parse_tdx_obj(json_t *obj, struct tdx_policy *p, char *err, size_t errlen)
{
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v)
	{
		int r = 0;
		struct {
			const char *name;
			struct tdx_policy_bytes *b;
			size_t n;
		} bytes[] = {
			{ "mr_seam", &p->mr_seam, 48 },
			{ "mr_signer_seam", &p->mr_signer_seam, 48 },
			{ "mr_td", &p->mr_td, 48 },
			{ "mr_config_id", &p->mr_config_id, 48 },
			{ "mr_owner", &p->mr_owner, 48 },
			{ "mr_owner_config", &p->mr_owner_config, 48 },
			{ "report_data", &p->report_data, 64 },
		};
		bool done = false;
		for (size_t i = 0; i < ARRAY_SIZE(bytes) && !done; i++) {
			if (strcmp(k, bytes[i].name) != 0)
				continue;
			done = true;
			r = get_bytes(v, bytes[i].n, bytes[i].b, k, err, errlen);
		}
		if (done) {
		} else if (strcmp(k, "accepted_tcb_statuses") == 0) {
			r = parse_statuses(v, p, err, errlen);
		} else if (strcmp(k, "allow_debug") == 0) {
			if (json_is_boolean(v))
				p->allow_debug = json_is_true(v);
			else if (!json_is_null(v))
				r = perr(err, errlen, "tdx_policy.allow_debug: want true or false");
		} else if (strcmp(k, "td_attributes") == 0 || strcmp(k, "xfam") == 0) {
			bool td = k[0] == 't';
			if (!json_is_null(v)) {
				r = get_u64(v, td ? &p->td_attributes : &p->xfam, k, err, errlen);
				if (td)
					p->has_td_attributes = r == 0;
				else
					p->has_xfam = r == 0;
			}
		} else if (strcmp(k, "minimum_tee_tcb_svn") == 0) {
			struct tdx_policy_bytes b;
			r = get_bytes(v, 16, &b, k, err, errlen);
			if (r == 0 && b.set) {
				memcpy(p->minimum_tee_tcb_svn, b.v, 16);
				p->has_minimum_tee_tcb_svn = true;
			}
		} else if (strcmp(k, "rtmrs") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_array(v) || json_array_size(v) != 4)
				return perr(
					err, errlen,
					"tdx_policy.rtmrs: want an array of 4 values (RTMR0..3; "
					"\"\" or null leaves one unchecked)");
			for (size_t i = 0; i < 4 && r == 0; i++) {
				char f[16];
				snprintf(f, sizeof(f), "rtmrs[%zu]", i);
				r = get_bytes(json_array_get(v, i), 48, &p->rtmr[i], f, err,
					      errlen);
			}
		} else {
			char safe[64];
			safe_key(safe, sizeof(safe), k);
			return perr(err, errlen, "tdx_policy: unknown key \"%s\"", safe);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

void tdx_policy_free(struct tdx_policy *p)
{
	free(p);
}

struct tdx_policy *tdx_policy_parse(const char *json, size_t len, char *err, size_t errlen)
{
	json_t *root = attest_policy_load_json(json, len, err, errlen);
	if (!root)
		return NULL;
	struct tdx_policy *p = calloc(1, sizeof(*p));
	int rc = -EINVAL;
	if (!p) {
		perr(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	p->accepted_statuses = 1u << TDX_TCB_UP_TO_DATE;
	bool seen = false;
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "tdx_policy") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_object(v)) {
				perr(err, errlen, "tdx_policy: want an object");
				goto out;
			}
			seen = true;
			if (parse_tdx_obj(v, p, err, errlen) < 0)
				goto out;
		} else if (strcmp(k, "allow_unattested") == 0) {
			if (json_is_boolean(v)) {
				p->allow_unattested = json_is_true(v);
			} else if (!json_is_null(v)) {
				perr(err, errlen, "allow_unattested: want true or false");
				goto out;
			}
		} else if (strcmp(k, "snp_policy") == 0 || strcmp(k, "policy") == 0 ||
			   strcmp(k, "root_of_trust") == 0 || strcmp(k, "pcr_values") == 0) {
			/* snp_policy_parse's keys */
		} else {
			char safe[64];
			safe_key(safe, sizeof(safe), k);
			perr(err, errlen, "unknown top-level key \"%s\"", safe);
			goto out;
		}
	}
	if (!seen) {
		perr(err, errlen, "no \"tdx_policy\" object");
		goto out;
	}
	rc = 0;
out:
	json_decref(root);
	if (rc < 0) {
		free(p);
		errno = -rc;
		return NULL;
	}
	if (err && errlen)
		err[0] = '\0';
	return p;
}

int tdx_policy_set_report_data(struct tdx_policy *p, const uint8_t rd[64])
{
	if (!p || !rd)
		return -EINVAL;
	memcpy(p->report_data.v, rd, 64);
	p->report_data.set = true;
	p->report_data_from_verifier = true;
	return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Evaluation */

enum res { RES_PASS, RES_FAIL, RES_SKIP };

struct ev {
	json_t *checks;
	bool failed, oom;
};

__attribute__((format(printf, 6, 7))) static void add_check(struct ev *e, const char *name,
							    enum res res, const char *expected,
							    const char *actual, const char *fmt,
							    ...)
{
	static const char *const res_names[] = { "pass", "fail", "skipped" };
	char detail[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (res == RES_FAIL)
		e->failed = true;
	json_t *o = json_object();
	if (!o) {
		e->oom = true;
		return;
	}
	int rc = json_object_set_new(o, "name", json_string(name));
	rc |= json_object_set_new(o, "result", json_string(res_names[res]));
	if (expected)
		rc |= json_object_set_new(o, "expected",
					  json_string_lossy(expected, strlen(expected)));
	if (actual)
		rc |= json_object_set_new(o, "actual", json_string_lossy(actual, strlen(actual)));
	rc |= json_object_set_new(o, "detail", json_string_lossy(detail, strlen(detail)));
	if (rc || json_array_append_new(e->checks, o) < 0)
		e->oom = true;
}

static void check_bytes(struct ev *e, const char *name, const struct tdx_policy_bytes *b,
			const uint8_t *actual, size_t n, const char *what)
{
	char a[2 * 64 + 1], x[2 * 64 + 1];
	util_hex(a, actual, n);
	if (!b->set) {
		add_check(e, name, RES_SKIP, NULL, a, "%s not in the policy", what);
		return;
	}
	util_hex(x, b->v, n);
	if (memcmp(b->v, actual, n) == 0)
		add_check(e, name, RES_PASS, x, a, "%s matches", what);
	else
		add_check(e, name, RES_FAIL, x, a, "%s differs", what);
}

static void check_u64(struct ev *e, const char *name, bool has, uint64_t want, uint64_t got)
{
	char a[24], x[24];
	snprintf(a, sizeof(a), "0x%016llx", (unsigned long long)got);
	snprintf(x, sizeof(x), "0x%016llx", (unsigned long long)want);
	if (!has)
		add_check(e, name, RES_SKIP, NULL, a, "%s not in the policy", name);
	else if (want == got)
		add_check(e, name, RES_PASS, x, a, "%s matches", name);
	else
		add_check(e, name, RES_FAIL, x, a, "%s differs", name);
}

static void status_list(char *out, size_t cap, unsigned mask)
{
	size_t o = 0;
	out[0] = '\0';
	for (int i = 1; i < TDX_TCB_STATUS_COUNT; i++) {
		if (!(mask & (1u << i)) || o >= cap)
			continue;
		int w = snprintf(out + o, cap - o, "%s%s", o ? ", " : "",
				 tdx_tcb_status_name((enum tdx_tcb_status)i));
		o = w < 0 ? cap : o + (size_t)w;
	}
}

static void check_tcb_status(struct ev *e, const struct tdx_policy *p, const struct tdx_verdict *v)
{
	char want[200];
	status_list(want, sizeof(want), p->accepted_statuses);
	if (!v) {
		add_check(e, "tcb_status", RES_SKIP, want, NULL, "the quote was not verified");
		return;
	}
	if (v->reason != TDX_OK && v->reason != TDX_ERR_TCB_REVOKED) {
		add_check(e, "tcb_status", RES_FAIL, want, NULL,
			  "no TCB status: the verification failed (%s)",
			  tdx_reason_name(v->reason));
		return;
	}
	if (!v->tcb_evaluated) {
		add_check(e, "tcb_status", RES_FAIL, want, "Unknown",
			  "no TCB info for the platform: the TCB status is unknown (give the "
			  "collateral)");
		return;
	}
	const char *got = tdx_tcb_status_name(v->tcb_status);
	char adv[TDX_ADVISORIES_MAX * 16] = "";
	size_t o = 0;
	for (size_t i = 0; i < v->n_advisory_ids && o < sizeof(adv); i++) {
		int w = snprintf(adv + o, sizeof(adv) - o, "%s%s", i ? " " : "",
				 v->advisory_ids[i]);
		o = w < 0 ? sizeof(adv) : o + (size_t)w;
	}
	bool ok = (p->accepted_statuses & (1u << v->tcb_status)) != 0;
	add_check(e, "tcb_status", ok ? RES_PASS : RES_FAIL, want, got, "TCB status %s%s%s%s%s",
		  got, ok ? " is accepted" : " is not accepted", adv[0] ? " (advisories: " : "",
		  adv, adv[0] ? ")" : "");
}

json_t *tdx_policy_evaluate(const struct tdx_policy *p, const struct tdx_quote *q,
			    const struct tdx_verdict *v, bool *pass)
{
	if (pass)
		*pass = false;
	if (!p || !q)
		return NULL;
	struct ev e = { .checks = json_array() };
	if (!e.checks)
		return NULL;
	if (!v)
		add_check(&e, "signature_and_chain", RES_SKIP, NULL, NULL, "not verified");
	else
		add_check(&e, "signature_and_chain", v->reason == TDX_OK ? RES_PASS : RES_FAIL,
			  NULL, tdx_reason_name(v->reason), "%s", v->detail);
	check_tcb_status(&e, p, v);

	bool debug = q->td_attributes & TDX_TD_ATTR_DEBUG;
	if (!debug)
		add_check(&e, "debug", RES_PASS, NULL, "0", "the TD is not debuggable");
	else if (p->allow_debug)
		add_check(&e, "debug", RES_PASS, NULL, "1",
			  "the TD is debuggable (TDATTRIBUTES.DEBUG), allowed by allow_debug");
	else
		add_check(&e, "debug", RES_FAIL, "0", "1",
			  "the TD is debuggable (TDATTRIBUTES.DEBUG): its memory is open to the "
			  "host; set allow_debug to accept it");
	check_u64(&e, "td_attributes", p->has_td_attributes, p->td_attributes, q->td_attributes);
	check_u64(&e, "xfam", p->has_xfam, p->xfam, q->xfam);

	char a[33], x[33];
	util_hex(a, q->tee_tcb_svn, 16);
	if (!p->has_minimum_tee_tcb_svn) {
		add_check(&e, "minimum_tee_tcb_svn", RES_SKIP, NULL, a,
			  "minimum_tee_tcb_svn not in the policy");
	} else {
		util_hex(x, p->minimum_tee_tcb_svn, 16);
		int low = -1;
		for (int i = 0; i < 16 && low < 0; i++)
			if (q->tee_tcb_svn[i] < p->minimum_tee_tcb_svn[i])
				low = i;
		if (low < 0)
			add_check(&e, "minimum_tee_tcb_svn", RES_PASS, x, a,
				  "every TEE_TCB_SVN component is at least the policy's");
		else
			add_check(&e, "minimum_tee_tcb_svn", RES_FAIL, x, a,
				  "TEE_TCB_SVN component %d is %u, below %u", low,
				  q->tee_tcb_svn[low], p->minimum_tee_tcb_svn[low]);
	}
	check_bytes(&e, "mr_seam", &p->mr_seam, q->mr_seam, 48, "MRSEAM");
	check_bytes(&e, "mr_signer_seam", &p->mr_signer_seam, q->mr_signer_seam, 48,
		    "MRSIGNERSEAM");
	check_bytes(&e, "mr_td", &p->mr_td, q->mr_td, 48, "MRTD");
	check_bytes(&e, "mr_config_id", &p->mr_config_id, q->mr_config_id, 48, "MRCONFIGID");
	check_bytes(&e, "mr_owner", &p->mr_owner, q->mr_owner, 48, "MROWNER");
	check_bytes(&e, "mr_owner_config", &p->mr_owner_config, q->mr_owner_config, 48,
		    "MROWNERCONFIG");
	static const char *const rn[4] = { "rtmr0", "rtmr1", "rtmr2", "rtmr3" };
	static const char *const rw[4] = { "RTMR0", "RTMR1", "RTMR2", "RTMR3" };
	for (int i = 0; i < 4; i++)
		check_bytes(&e, rn[i], &p->rtmr[i], q->rtmr[i], 48, rw[i]);
	check_bytes(&e, "report_data", &p->report_data, q->report_data, 64,
		    p->report_data_from_verifier ? "REPORTDATA (the verifier's binding)"
						 : "REPORTDATA");

	json_t *o = e.oom ? NULL : json_object();
	if (!o) {
		json_decref(e.checks);
		return NULL;
	}
	/* json_object_set_new takes the value's reference also when it fails. */
	int rc = json_object_set_new(o, "verified", json_boolean(!e.failed));
	rc |= json_object_set_new(o, "checks", e.checks);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	if (pass)
		*pass = !e.failed;
	return o;
}
