/*
 * attest/tsm.h - attestation evidence from the Linux configfs-tsm report interface
 * (/sys/kernel/config/tsm/report, Linux >= 6.7; SEV-SNP "sev_guest" and TDX "tdx_guest").
 *
 * tsm_get_report creates a fresh report entry of its own (a random name under root), writes the
 * caller's 64 bytes of inblob (and, optionally, privlevel), reads the outblob (SNP: the 1184-byte
 * ATTESTATION_REPORT; TDX: the whole quote) and the auxblob (SNP: the certificate table of an
 * extended report; may be absent), checks with the entry's generation counter that no other
 * writer changed the entry between our write and our reads (retrying with a new entry if one
 * did), and removes the entry again, also on every error.
 *
 * Users: cloister-agent's GET /attestation. Tests drive it against tests/fixtures/tsm_fixture.c,
 * a program that answers like the kernel inside an ordinary directory.
 *
 * Ownership: struct tsm_evidence is the caller's; tsm_get_report fills it with malloc'd blobs
 * that tsm_evidence_done frees (it accepts an empty or already-done struct).
 * Thread safety: reentrant; concurrent calls use separate entries and do not interfere.
 * Blocking: the call blocks while the kernel asks the firmware (SNP) or the host's quoting
 * service (TDX); call it from a worker thread.
 *
 * Limits: TSM_INBLOB_BYTES of user data; an outblob of at most TSM_OUTBLOB_MAX_BYTES and an
 * auxblob of at most TSM_AUXBLOB_MAX_BYTES (-E2BIG past either); TSM_RETRIES retries after a
 * concurrent writer; TSM_SETTLE_TIMEOUT_MS for an entry to settle (see tsm.c).
 */
#ifndef CLOISTER_ATTEST_TSM_H
#define CLOISTER_ATTEST_TSM_H

#include <stddef.h>
#include <stdint.h>

#define TSM_DEFAULT_ROOT "/sys/kernel/config/tsm/report"
#define TSM_INBLOB_BYTES 64                /* the kernel's TSM_INBLOB_MAX */
#define TSM_OUTBLOB_MAX_BYTES (32u * 1024) /* the kernel's TSM_OUTBLOB_MAX */
#define TSM_AUXBLOB_MAX_BYTES (32u * 1024) /* auxblob has the same bound in the kernel */
#define TSM_RETRIES 3              /* retries after a generation mismatch: 1 + 3 attempts in all */
#define TSM_SETTLE_TIMEOUT_MS 2000 /* per attempt: attributes present, generation advanced */
#define TSM_POLL_STEP_MS 5
#define TSM_PROVIDER_MAX_BYTES 32 /* "sev_guest", "tdx_guest", with the NUL */
#define TSM_PRIVLEVEL_MAX 3

/* The TEE behind a provider name: "sev_guest" -> SNP (outblob: the 1184-byte report, auxblob:
 * the certificate table), "tdx_guest" -> TDX (outblob: the whole DCAP quote v4/v5, no auxblob);
 * any other provider (arm_cca_guest, ...) is UNKNOWN and left to the caller. */
enum tsm_tee { TSM_TEE_UNKNOWN = 0, TSM_TEE_SNP, TSM_TEE_TDX };
enum tsm_tee tsm_tee_from_provider(const char *provider);
/* "snp", "tdx" or "unknown". */
const char *tsm_tee_name(enum tsm_tee t);

struct tsm_evidence {
	char provider
		[TSM_PROVIDER_MAX_BYTES]; /* the entry's provider attribute, e.g. "sev_guest" */
	enum tsm_tee tee;                 /* what the provider says the blobs are */
	uint8_t *outblob;                 /* malloc'd; never NULL on success, outlen >= 1 */
	size_t outlen;
	uint8_t *auxblob; /* malloc'd or NULL when the provider has none (TDX) or it is empty */
	size_t auxlen;
	uint32_t generation; /* the entry's generation the blobs belong to */
};

/*
 * root: the configfs-tsm report directory (NULL: TSM_DEFAULT_ROOT). privlevel: -1 leaves the
 * entry's default (VMPL 0 on SNP), 0..TSM_PRIVLEVEL_MAX writes it (the kernel refuses values
 * below privlevel_floor). On success returns 0 with ev filled (free with tsm_evidence_done).
 * On failure returns a negative errno with a message in err (errlen bytes; may be 0) and ev
 * empty:
 *   -ENOENT     root does not exist (configfs not mounted, or no TSM provider in this kernel)
 *   -EACCES     / -EPERM: not allowed to create an entry (the agent needs root)
 *   -EINVAL     privlevel out of range, or refused by the kernel
 *   -ETIMEDOUT  the entry did not settle within TSM_SETTLE_TIMEOUT_MS (root is not configfs-tsm)
 *   -EAGAIN     another writer changed the entry on every one of 1 + TSM_RETRIES attempts
 *   -E2BIG      outblob over TSM_OUTBLOB_MAX_BYTES or auxblob over TSM_AUXBLOB_MAX_BYTES
 *   -EPROTO     an attribute holds something the kernel never writes (bad generation or
 *               provider text), or the outblob is empty
 *   -ENOMEM, or the errno of a failed read/write (-EIO from the firmware, -EBUSY...).
 */
int tsm_get_report(const char *root, const uint8_t inblob[TSM_INBLOB_BYTES], int privlevel,
		   struct tsm_evidence *ev, char *err, size_t errlen);
void tsm_evidence_done(struct tsm_evidence *ev);

#endif
