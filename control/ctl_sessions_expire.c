/*
 * ctl_sessions_expire.c — the pure parts of weftd's sessions service
 * (ctl_sessions.h): a record's deadline, the scan callback that picks the
 * sessions due, the SESSION EXPIRE datagram and its answer, the discard
 * of a due copy the primary no longer holds, an event's message
 * properties.
 *
 * The EXPIRE is a raw datagram rather than a libweft call because libweft
 * has no public EXPIRE (wire.h: node only): it goes to this node's own
 * data address from a dataplane local client, without WEFT_F_NODE, so the
 * node routes it to the id's primary like any keyed op (forwarded with
 * WEFT_F_NODE when the primary is another node).
 *
 * Invariants: every read of a record is bounded by its length; the scan
 * callback never blocks and never reports a quiescent state (it runs
 * inside weft_cache_scan); a datagram is taken as the answer only when
 * magic, version, the response flag, opcode, client_id and request_id all
 * match and it is no shorter than its header says.
 */
#include <string.h>

#include <weft/weft.h>

#include "ctl_sessions.h"

bool ctl_sessions_deadline(const uint8_t *value, uint32_t len, uint64_t *deadline_ms)
{
	struct weft_session_record_hdr h;
	if (value == NULL || len < sizeof(h))
		return false;
	memcpy(&h, value, sizeof(h));
	if (h.magic != WEFT_SESSION_RECORD_MAGIC)
		return false;
	uint32_t max = h.max_inactive_s ? h.max_inactive_s : WEFT_SESSION_DEFAULT_MAX_INACTIVE_S;
	*deadline_ms = h.access_ms + weft_session_slack_ms(max) + (uint64_t)max * 1000u;
	return true;
}

void ctl_sessions_scan_fn(void *arg, const struct weft_cache_key *key,
			  const struct weft_cache_image *img)
{
	struct ctl_sess_scan *a = arg;
	if (img->deleted)
		return;
	uint64_t deadline;
	if (key->len != WEFT_SESSION_ID_LEN ||
	    !ctl_sessions_deadline(img->value, img->value_len, &deadline)) {
		a->bad++;
		return;
	}
	a->seen++;
	if (a->now_unix_ms < deadline || a->n == a->cap)
		return;
	if (a->due_version != NULL)
		a->due_version[a->n] = img->version;
	memcpy(a->due[a->n++], key->data, WEFT_SESSION_ID_LEN);
}

bool ctl_sessions_discard_due(struct weft_dp *dp, struct weft_cache *c,
			      const uint8_t id[WEFT_SESSION_ID_LEN], uint64_t version)
{
	struct weft_cache_key k = {id, WEFT_SESSION_ID_LEN, weft_cache_hash(id, WEFT_SESSION_ID_LEN)};
	return weft_cache_discard(c, &k, version, weft_dp_now_ms(dp)) == 0;
}

size_t ctl_sessions_expire_encode(const char *store, size_t store_len,
				  const uint8_t id[WEFT_SESSION_ID_LEN], uint32_t client_id,
				  uint64_t request_id, uint8_t flags, uint8_t *out)
{
	if (store == NULL || !weft_wire_is_session_store(store, store_len))
		return 0;
	struct weft_x_session x = {.action = WEFT_SESS_EXPIRE};
	struct weft_wire_hdr h = {
		.magic = WEFT_WIRE_MAGIC,
		.version = WEFT_WIRE_VERSION,
		.opcode = WEFT_OP_SESSION,
		.flags = flags,
		.name_len = (uint8_t)store_len,
		.key_len = WEFT_SESSION_ID_LEN,
		.extras_len = sizeof(x),
		.client_id = client_id,
		.request_id = request_id,
		.msg_len = (uint32_t)(store_len + WEFT_SESSION_ID_LEN + sizeof(x)),
	};
	uint8_t *w = out;
	memcpy(w, &h, sizeof(h));
	w += sizeof(h);
	memcpy(w, store, store_len);
	w += store_len;
	memcpy(w, id, WEFT_SESSION_ID_LEN);
	w += WEFT_SESSION_ID_LEN;
	memcpy(w, &x, sizeof(x));
	w += sizeof(x);
	return (size_t)(w - out);
}

int ctl_sessions_expire_match(const uint8_t *d, size_t len, uint32_t client_id,
			      uint64_t request_id)
{
	struct weft_wire_hdr h;
	if (len < sizeof(h))
		return -1;
	memcpy(&h, d, sizeof(h));
	if (h.magic != WEFT_WIRE_MAGIC || h.version != WEFT_WIRE_VERSION ||
	    !(h.flags & WEFT_F_RESPONSE) || h.opcode != WEFT_OP_SESSION ||
	    h.client_id != client_id || h.request_id != request_id || h.frag_offset != 0 ||
	    len - sizeof(h) < (size_t)h.name_len + h.key_len + h.extras_len)
		return -1;
	return h.status;
}

bool ctl_sessions_event_props(const struct weft_dp_sess_event *ev, char hex[33],
			      struct weft_prop props[3])
{
	const char *name = weft_session_event_name((enum weft_session_event)ev->kind);
	if (name == NULL || ev->store_len > sizeof(ev->store) ||
	    !weft_wire_is_session_store(ev->store, ev->store_len))
		return false;
	struct weft_session_id id;
	memcpy(id.b, ev->id, sizeof(id.b));
	weft_session_id_hex(&id, hex);
	props[0] = (struct weft_prop){.name = "event", .value = name, .value_len = strlen(name)};
	props[1] = (struct weft_prop){.name = "session", .value = hex,
				      .value_len = WEFT_SESSION_HEX_LEN};
	props[2] = (struct weft_prop){.name = "store", .value = ev->store,
				      .value_len = ev->store_len};
	return true;
}
