/*
 * sess.h — web sessions (issue 7), sans-I/O: the session record codec and
 * the logic of one SESSION action (wire.h "Sessions"). The dataplane reads
 * the record from the cache, calls weft_sess_apply, stores what it says
 * (compare-and-swap on the entry's version) and replicates it; nothing here
 * touches the cache, the network or a clock.
 *
 * Invariants:
 *  - A record is valid (weft_sess_decode) iff: at least a
 *    weft_session_record_hdr, magic WEFT_SESSION_RECORD_MAGIC, reserved 0,
 *    max_inactive_s in 1..WEFT_SESSION_MAX_MAX_INACTIVE_S, then exactly
 *    hdr.attrs attributes filling the rest, each with a name of
 *    1..WEFT_SESSION_MAX_ATTR_NAME bytes without NUL, and the whole at most
 *    WEFT_SESSION_MAX_BYTES. Every length is checked before it is used: a
 *    corrupt record is -EINVAL, never a read past its end.
 *  - Names are unique within a record: every record weft_sess_apply makes
 *    replaces an attribute in place rather than adding a second one
 *    (decode does not re-check it: O(n) per op, not O(n^2)).
 *  - Deadline (the same on every owner): access_ms + slack + max_inactive_s
 *    * 1000, slack = weft_session_slack_ms(max_inactive_s); a session is due
 *    iff now >= its deadline.
 *
 * Every function is pure and thread-safe (it reads only its arguments);
 * buffers a result owns are malloc'd and freed by weft_sess_result_free.
 */
#ifndef WEFT_SESS_H
#define WEFT_SESS_H

#include <stdbool.h>
#include <stdint.h>

#include <weft/wire.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A decoded record: its header, and where its attributes are (in the
 * caller's bytes, valid as long as they are). */
struct weft_sess_record {
	struct weft_session_record_hdr hdr;
	const uint8_t *attrs;   /* the attribute list, attrs_len bytes */
	uint32_t attrs_len;
	uint32_t bytes;         /* the whole record */
};

/* One attribute (pointers into the record). */
struct weft_sess_attr {
	const uint8_t *name;
	uint16_t name_len;
	const uint8_t *value;
	uint32_t value_len;
};

/* Decodes and validates len bytes (the invariants above). 0, or -EINVAL. */
int weft_sess_decode(const uint8_t *rec, uint32_t len, struct weft_sess_record *out);

/* Iterates a decoded record's attributes: *pos starts at 0. false at the
 * end. */
bool weft_sess_attr_next(const struct weft_sess_record *r, uint32_t *pos,
			 struct weft_sess_attr *out);

/* Whether name (len bytes) is a valid attribute name: 1..250 bytes, no NUL. */
bool weft_sess_name_ok(const uint8_t *name, uint32_t len);

/* The deadline of a record (unix ms). */
uint64_t weft_sess_deadline_ms(const struct weft_session_record_hdr *h);

/* The info extras of a record as the primary sees it at now_ms (idle_ms =
 * now - access_ms, 0 when the clock is behind access_ms). */
void weft_sess_info(const struct weft_sess_record *r, uint64_t now_ms,
		    struct weft_x_session_info *out);

/* Checks a SESSION request's extras and value against its action, before
 * any record is read: WEFT_ST_OK or WEFT_ST_BAD_REQUEST (reserved not 0;
 * unknown action; attr_len set but for SET; max_inactive_s set but for
 * CREATE and TOUCH, or above WEFT_SESSION_MAX_MAX_INACTIVE_S; a value where
 * the action takes none; a bad attribute name; SET's attr_len past the
 * value). The session id is checked by the dataplane (16 bytes, not all
 * zero). */
uint16_t weft_sess_check_request(const struct weft_x_session *x, const uint8_t *value,
				 uint32_t value_len);

/* What the caller must do with the entry. */
enum weft_sess_outcome {
	WEFT_SESS_UNCHANGED = 0, /* nothing to store or replicate */
	WEFT_SESS_STORE = 1,     /* store result.record (CAS on the version read; a
	                            put-if-absent when there was none), replicate
	                            it as a PUT */
	WEFT_SESS_DELETE = 2,    /* delete the entry, replicate the delete */
};

struct weft_sess_result {
	uint16_t status;            /* enum weft_status of the answer */
	uint8_t outcome;            /* enum weft_sess_outcome */
	uint8_t event;              /* enum weft_session_event once the outcome is
	                               applied; 0: none */
	bool slack_write;           /* the STORE is a read's access_ms refresh */
	uint8_t *record;            /* STORE: the new record (malloc'd) */
	uint32_t record_len;
	/* The answer's payload, status OK of an idempotent action only
	 * (malloc'd): answer_extras_len (sizeof(weft_x_session_info)) bytes of
	 * info, then the value (GET: the attribute; LIST: the attribute list,
	 * names only; LOAD: with values). NULL otherwise: the answer has no
	 * extras and no value. */
	uint8_t *answer;
	uint32_t answer_len;
	uint16_t answer_extras_len;
};

/* Applies one SESSION action (x, with its request value) to the record
 * rec (rec_len bytes; NULL: the session does not exist) at now_ms (unix
 * ms). Fills *out (every field). Actions on an existing session past its
 * deadline, but CREATE (EXISTS) and EXPIRE, remove it (outcome DELETE,
 * event EXPIRED) and answer NO_SESSION. Statuses: OK, BAD_REQUEST
 * (weft_sess_check_request), NO_SESSION, EXISTS (CREATE: id taken;
 * EXPIRE: not due), NOT_FOUND (GET, REMOVE: no such attribute),
 * VALUE_TOO_LARGE (SET past WEFT_SESSION_MAX_BYTES: unchanged), INTERNAL
 * (rec is corrupt: unchanged), NO_MEMORY. Reads (GET, LIST, LOAD, TOUCH
 * without a new timeout, REMOVE of an absent attribute) store the record
 * with access_ms = now only when the record's access_ms is older than the
 * slack (slack_write); INFO is never an access. 0, or -ENOMEM (status
 * NO_MEMORY, nothing owned). */
int weft_sess_apply(const uint8_t *rec, uint32_t rec_len, const struct weft_x_session *x,
		    const uint8_t *value, uint32_t value_len, uint64_t now_ms,
		    struct weft_sess_result *out);

/* Frees what a result owns (record, answer) that the caller did not take
 * (set the pointer to NULL to take it). */
void weft_sess_result_free(struct weft_sess_result *r);

/* Builds a fresh record (no attributes) into a malloc'd buffer of
 * sizeof(weft_session_record_hdr) bytes: for tests and tools. NULL + errno
 * (EINVAL: max_inactive_s out of 1..MAX). */
uint8_t *weft_sess_record_new(uint32_t max_inactive_s, uint64_t created_ms, uint64_t access_ms);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_SESS_H */
