/*
 * swim_recv.c — datagram dispatch. A datagram is decoded twice: a dry pass
 * that validates every byte without side effects, then the applying pass,
 * so a malformed datagram changes no state and costs only a counted drop.
 *
 * Invariants: nothing is applied from a datagram that fails validation;
 * a large answer (JOIN_ACK, SYNC_ACK, VIEW) or gossip goes only to an
 * address validated by the table or by an echoed cookie (swim_wire.h);
 * datagrams from this very life (multicast echo) are ignored; in IDLE, DONE
 * and REFUSED every datagram is ignored; JOIN / ANNOUNCE are answered only
 * by members (ANNOUNCE only by the coordinator, and only for a node it does
 * not hold live), so a newcomer gets one answer per member it asked.
 */
#include <errno.h>
#include <stdio.h>

#include "swim_wire.h"

static bool walk_records(struct weft_swim *s, uint64_t now,
			 struct swim_cur *c, uint32_t n, bool apply,
			 enum swim_source src)
{
	struct swim_rec r;

	for (uint32_t i = 0; i < n; i++) {
		if (!swim_r_rec(c, &r))
			return false;
		if (apply)
			swim_apply(s, now, &r, src);
	}
	return true;
}

static bool gossip(struct weft_swim *s, uint64_t now, struct swim_cur *c,
		   bool apply)
{
	return walk_records(s, now, c, swim_r_u8(c), apply, SWIM_SRC_GOSSIP);
}

static bool state(struct weft_swim *s, uint64_t now, struct swim_cur *c,
		  bool apply)
{
	uint32_t n = swim_r_u16(c);

	if (n > s->cfg.max_members && !c->bad)
		c->bad = true;
	return walk_records(s, now, c, n, apply, SWIM_SRC_SYNC);
}

static void refuse(struct weft_swim *s, const struct swim_rec *winner)
{
	char id[33];

	for (unsigned i = 0; i < 16; i++)
		snprintf(&id[2 * i], 3, "%02x", s->cfg.id.b[i]);
	snprintf(s->reason, sizeof(s->reason),
		 "duplicate node id %s: a live member at %u.%u.%u.%u:%u "
		 "started earlier with the same id. This home was probably "
		 "copied from that node: stop this node, delete data/node-id "
		 "in its home (a new id is made at start) and start it again",
		 id, winner->addr.ip >> 24, (winner->addr.ip >> 16) & 255,
		 (winner->addr.ip >> 8) & 255, winner->addr.ip & 255,
		 winner->addr.port);
	s->phase = SWIM_REFUSED;
	struct weft_swim_event ev = {
		.kind = WEFT_SWIM_EV_REFUSED, .id = winner->id,
		.nonce = winner->nonce, .addr = winner->addr,
		.reason = s->reason, .name = winner->name,
	};
	swim_emit(s, &ev);
}

static void on_join(struct weft_swim *s, uint64_t now,
		    const struct weft_swim_addr *from, const struct swim_rec *r)
{
	uint16_t slot;
	struct swim_rec alive = *r;

	alive.state = WEFT_SWIM_ALIVE;
	alive.has_from = false;
	swim_apply(s, now, &alive, SWIM_SRC_JOIN);
	slot = swim_find(s, &r->id);
	if (slot == SWIM_NO_SLOT || slot == 0 || s->m[slot].nonce != r->nonce)
		return;                 /* refused (or table full) */
	swim_send_state(s, SWIM_MSG_JOIN_ACK, from);
	swim_view_send(s, from);
}

static void send_cookie(struct weft_swim *s, const struct weft_swim_addr *to,
			uint8_t for_type, uint64_t cookie)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_COOKIE);

	swim_w_u8(&c, for_type);
	swim_w_u64(&c, cookie);
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

/* True if a large answer may go to `from`: we hold the sender's life at
 * that address, or it echoed the cookie we gave that address; otherwise a
 * COOKIE (69 bytes; the requests it answers have 68 or more) goes back. */
static bool validated(struct weft_swim *s, const struct weft_swim_addr *from,
		      const struct swim_hdr *h, bool known, uint64_t cookie,
		      uint8_t for_type)
{
	uint64_t want = swim_cookie(s, from, &h->sender, h->sender_nonce);

	if (known || cookie == want)
		return true;
	send_cookie(s, from, for_type, want);
	return false;
}

/* A COOKIE: repeat the request it is for. A SYNC is repeated only to an
 * address we sent one to (else a forged COOKIE would make us reflect our
 * whole state at a victim). */
static void on_cookie(struct weft_swim *s, const struct weft_swim_addr *from,
		      uint8_t for_type, uint64_t cookie)
{
	if (for_type == SWIM_MSG_JOIN &&
	    (s->phase == SWIM_JOINING || s->phase == SWIM_MEMBER)) {
		swim_send_join(s, from, cookie);
	} else if (for_type == SWIM_MSG_VIEW_REQ) {
		swim_view_request(s, from, cookie);
	} else if (for_type == SWIM_MSG_SYNC &&
		   (s->phase == SWIM_MEMBER || s->phase == SWIM_LEAVING)) {
		for (unsigned i = 0; i < 4; i++) {
			if (swim_addr_eq(&s->sync_sent[i], from)) {
				s->sync_sent[i].ip = 0;
				swim_send_sync(s, from, cookie);
				return;
			}
		}
	}
}

/* Decodes the body after the header; with apply == false only validates.
 * `known`: the sender's life is in our table at `from` (before this
 * datagram was applied). */
static bool handle(struct weft_swim *s, uint64_t now,
		   const struct weft_swim_addr *from, const struct swim_hdr *h,
		   struct swim_cur *c, bool apply, bool known)
{
	uint64_t cookie;
	uint8_t for_type;
	struct weft_swim_id id;
	struct swim_rec r, w;
	uint64_t nonce;
	uint32_t seq, n;
	struct weft_swim_addr ta;
	struct weft_swim_view_id vid;
	bool member = s->phase == SWIM_MEMBER || s->phase == SWIM_LEAVING;

	switch (h->type) {
	case SWIM_MSG_PING:
	case SWIM_MSG_ACK:
		seq = swim_r_u32(c);
		swim_r_id(c, &id);
		nonce = swim_r_u64(c);
		if (!gossip(s, now, c, apply) || !apply)
			break;
		if (h->type == SWIM_MSG_PING)
			swim_on_ping(s, from, known, seq, &id, nonce);
		else
			swim_on_ack(s, seq, &id, nonce, &h->view);
		break;
	case SWIM_MSG_PING_REQ:
		seq = swim_r_u32(c);
		swim_r_id(c, &id);
		nonce = swim_r_u64(c);
		ta.ip = swim_r_u32(c);
		ta.port = swim_r_u16(c);
		/* Relay only for a requester at an address the table holds:
		 * a stranger must not bounce pings (with gossip) off us. */
		if (gossip(s, now, c, apply) && apply && member && known)
			swim_on_ping_req(s, now, from, seq, &id, nonce, &ta);
		break;
	case SWIM_MSG_NACK:
		seq = swim_r_u32(c);
		if (apply)
			swim_on_nack(s, seq);
		break;
	case SWIM_MSG_JOIN:
	case SWIM_MSG_ANNOUNCE:
		swim_r_rec(c, &r);
		cookie = h->type == SWIM_MSG_JOIN ? swim_r_u64(c) : 0;
		/* A node joins for itself, from its own address. */
		if (!c->bad && (swim_id_cmp(&r.id, &h->sender) != 0 ||
				r.nonce != h->sender_nonce ||
				!swim_addr_eq(&r.addr, from)))
			c->bad = true;
		if (c->bad || !apply || s->phase != SWIM_MEMBER)
			break;
		if (h->type == SWIM_MSG_ANNOUNCE) {
			uint16_t slot = swim_find(s, &r.id);

			if (!swim_view_is_coord(s) ||
			    (slot != SWIM_NO_SLOT && s->m[slot].nonce == r.nonce &&
			     swim_live_state(s->m[slot].state)))
				break;
		}
		if (validated(s, from, h, known, cookie, SWIM_MSG_JOIN))
			on_join(s, now, from, &r);
		break;
	case SWIM_MSG_SYNC:
		cookie = swim_r_u64(c);
		if (!apply) {
			state(s, now, c, false);
			break;
		}
		/* Unvalidated: neither merge nor answer (the body was
		 * checked by the dry pass). */
		if (!validated(s, from, h, known, cookie, SWIM_MSG_SYNC))
			break;
		if (state(s, now, c, true) && member)
			swim_send_state(s, SWIM_MSG_SYNC_ACK, from);
		break;
	case SWIM_MSG_JOIN_ACK:
	case SWIM_MSG_SYNC_ACK:
		if (!state(s, now, c, apply) || !apply)
			break;
		if (h->type == SWIM_MSG_JOIN_ACK && s->phase == SWIM_JOINING)
			swim_become_member(s, now);
		break;
	case SWIM_MSG_COOKIE:
		for_type = swim_r_u8(c);
		cookie = swim_r_u64(c);
		if (for_type != SWIM_MSG_JOIN && for_type != SWIM_MSG_SYNC &&
		    for_type != SWIM_MSG_VIEW_REQ)
			c->bad = true;
		if (!c->bad && apply)
			on_cookie(s, from, for_type, cookie);
		break;
	case SWIM_MSG_REJECT:
		if (swim_r_u8(c) != SWIM_REJECT_DUPLICATE_ID)
			c->bad = true;
		swim_r_id(c, &id);
		nonce = swim_r_u64(c);
		if (!swim_r_rec(c, &w) || !apply)
			break;
		if (swim_id_cmp(&id, &s->cfg.id) == 0 && nonce == s->cfg.nonce &&
		    (s->phase == SWIM_JOINING || s->phase == SWIM_MEMBER) &&
		    w.nonce < nonce)
			refuse(s, &w);
		break;
	case SWIM_MSG_VIEW_REQ:
		cookie = swim_r_u64(c);
		if (!c->bad && apply &&
		    validated(s, from, h, known, cookie, SWIM_MSG_VIEW_REQ))
			swim_view_send(s, from);
		break;
	case SWIM_MSG_VIEW:
		vid.counter = swim_r_u64(c);
		swim_r_id(c, &vid.coord.id);
		vid.coord.nonce = swim_r_u64(c);
		n = swim_r_u16(c);
		if (n == 0 || n > s->cfg.max_members)
			c->bad = true;
		for (uint32_t i = 0; i < n && !c->bad; i++) {
			swim_r_id(c, &s->vscratch[i].id);
			s->vscratch[i].nonce = swim_r_u64(c);
		}
		if (c->bad || !apply)
			break;
		swim_view_on_msg(s, now, &vid, s->vscratch, n);
		/* Joining by announce, admitted (listed) but no JOIN_ACK
		 * yet: the next JOIN retry also goes to this sender, which
		 * answers a JOIN (known bug H: a coordinator ignores the
		 * ANNOUNCEs of a node it holds live). */
		if (s->phase == SWIM_JOINING && s->n_seeds == 0 &&
		    swim_view_lists_self(s)) {
			s->join_via = *from;
			s->have_join_via = true;
		}
		break;
	case SWIM_MSG_GOSSIP:
		gossip(s, now, c, apply);
		break;
	default:
		c->bad = true;
		break;
	}
	return !c->bad && c->r == c->end;
}

int weft_swim_recv(struct weft_swim *s, uint64_t now_ms,
		   const struct weft_swim_addr *from, const void *buf,
		   size_t len, const struct weft_swim_sink *sink)
{
	struct swim_cur c = { .r = buf, .end = (const uint8_t *)buf + len };
	struct swim_cur body;
	struct swim_hdr h;

	if (s->phase == SWIM_IDLE || s->phase == SWIM_DONE ||
	    s->phase == SWIM_REFUSED)
		return 0;
	s->sink = sink;
	if (!buf || !swim_hdr_parse(&c, &h)) {
		s->st.rx_dropped++;
		swim_finish(s, now_ms);
		return -EBADMSG;
	}
	body = c;
	if (!handle(s, now_ms, from, &h, &body, false, false)) {
		s->st.rx_dropped++;
		swim_finish(s, now_ms);
		return -EBADMSG;
	}
	s->st.rx_msgs++;
	if (swim_id_cmp(&h.sender, &s->cfg.id) != 0 || h.sender_nonce != s->cfg.nonce) {
		uint16_t slot = swim_find(s, &h.sender);
		bool known = slot != SWIM_NO_SLOT && slot != 0 &&
			     s->m[slot].nonce == h.sender_nonce &&
			     swim_addr_eq(&s->m[slot].addr, from);

		swim_heard_from(s, &h.sender, h.sender_nonce);
		handle(s, now_ms, from, &h, &c, true, known);
		if (s->phase != SWIM_REFUSED && s->phase != SWIM_DONE)
			swim_view_seen(s, now_ms, from, &h.view);
	}
	swim_finish(s, now_ms);
	return 0;
}

