/*
 * swim_wire.c — bounded little-endian encode/decode of membership messages
 * (format in swim_wire.h). Writers and readers latch `bad` instead of
 * overrunning; callers check it once at the end.
 */
#include <string.h>
#include <xxhash.h>

#include "swim_wire.h"

void swim_w_u8(struct swim_cur *c, uint8_t v)
{
	if (c->bad || c->end - c->p < 1) {
		c->bad = true;
		return;
	}
	*c->p++ = v;
}

void swim_w_u16(struct swim_cur *c, uint16_t v)
{
	swim_w_u8(c, (uint8_t)v);
	swim_w_u8(c, (uint8_t)(v >> 8));
}

void swim_w_u32(struct swim_cur *c, uint32_t v)
{
	swim_w_u16(c, (uint16_t)v);
	swim_w_u16(c, (uint16_t)(v >> 16));
}

void swim_w_u64(struct swim_cur *c, uint64_t v)
{
	swim_w_u32(c, (uint32_t)v);
	swim_w_u32(c, (uint32_t)(v >> 32));
}

void swim_w_id(struct swim_cur *c, const struct weft_swim_id *id)
{
	if (c->bad || c->end - c->p < (ptrdiff_t)sizeof(id->b)) {
		c->bad = true;
		return;
	}
	memcpy(c->p, id->b, sizeof(id->b));
	c->p += sizeof(id->b);
}

void swim_w_rec(struct swim_cur *c, const struct swim_rec *r)
{
	swim_w_u8(c, (uint8_t)((r->state & 3u) | (r->has_from ? 0x80u : 0u) |
			       (r->name_len ? 0x40u : 0u)));
	swim_w_id(c, &r->id);
	swim_w_u64(c, r->nonce);
	swim_w_u32(c, r->addr.ip);
	swim_w_u16(c, r->addr.port);
	swim_w_u32(c, r->inc);
	if (r->has_from)
		swim_w_id(c, &r->from);
	if (r->name_len == 0)
		return;
	swim_w_u8(c, r->name_len);
	if (c->bad || c->end - c->p < (ptrdiff_t)r->name_len) {
		c->bad = true;
		return;
	}
	memcpy(c->p, r->name, r->name_len);
	c->p += r->name_len;
}

uint8_t swim_r_u8(struct swim_cur *c)
{
	if (c->bad || c->end - c->r < 1) {
		c->bad = true;
		return 0;
	}
	return *c->r++;
}

uint16_t swim_r_u16(struct swim_cur *c)
{
	uint16_t lo = swim_r_u8(c);
	return (uint16_t)(lo | (uint16_t)swim_r_u8(c) << 8);
}

uint32_t swim_r_u32(struct swim_cur *c)
{
	uint32_t lo = swim_r_u16(c);
	return lo | (uint32_t)swim_r_u16(c) << 16;
}

uint64_t swim_r_u64(struct swim_cur *c)
{
	uint64_t lo = swim_r_u32(c);
	return lo | (uint64_t)swim_r_u32(c) << 32;
}

void swim_r_id(struct swim_cur *c, struct weft_swim_id *id)
{
	if (c->bad || c->end - c->r < (ptrdiff_t)sizeof(id->b)) {
		c->bad = true;
		memset(id, 0, sizeof(*id));
		return;
	}
	memcpy(id->b, c->r, sizeof(id->b));
	c->r += sizeof(id->b);
}

bool swim_r_rec(struct swim_cur *c, struct swim_rec *r)
{
	uint8_t flags = swim_r_u8(c);

	if (flags & 0x3cu)      /* reserved bits must be zero */
		c->bad = true;
	r->state = flags & 3u;
	r->has_from = (flags & 0x80u) != 0;
	swim_r_id(c, &r->id);
	r->nonce = swim_r_u64(c);
	r->addr.ip = swim_r_u32(c);
	r->addr.port = swim_r_u16(c);
	r->inc = swim_r_u32(c);
	if (r->has_from)
		swim_r_id(c, &r->from);
	else
		memset(&r->from, 0, sizeof(r->from));
	r->name_len = 0;
	r->name[0] = '\0';
	if (!(flags & 0x40u))
		return !c->bad;
	r->name_len = swim_r_u8(c);
	if (r->name_len == 0 || r->name_len > WEFT_SWIM_NAME_MAX ||
	    c->end - c->r < (ptrdiff_t)r->name_len)
		c->bad = true;
	if (c->bad) {
		r->name_len = 0;
		r->name[0] = '\0';
		return false;
	}
	for (unsigned i = 0; i < r->name_len; i++)
		if (c->r[i] <= 0x20 || c->r[i] >= 0x7f)   /* printable, no space */
			c->bad = true;
	memcpy(r->name, c->r, r->name_len);
	r->name[c->bad ? 0 : r->name_len] = '\0';
	c->r += r->name_len;
	return !c->bad;
}

struct swim_cur swim_msg_begin(struct weft_swim *s, uint8_t type)
{
	struct swim_cur c = { .p = s->buf, .end = s->buf + WEFT_SWIM_MSG_MAX };

	swim_w_u8(&c, SWIM_MAGIC0);
	swim_w_u8(&c, SWIM_MAGIC1);
	swim_w_u8(&c, SWIM_VERSION);
	swim_w_u8(&c, type);
	swim_w_id(&c, &s->cfg.id);
	swim_w_u64(&c, s->cfg.nonce);
	swim_w_u64(&c, s->have_view ? s->view_id.counter : 0);
	swim_w_id(&c, &s->view_id.coord.id);
	swim_w_u64(&c, s->view_id.coord.nonce);
	return c;
}

bool swim_hdr_parse(struct swim_cur *c, struct swim_hdr *h)
{
	if (swim_r_u8(c) != SWIM_MAGIC0 || swim_r_u8(c) != SWIM_MAGIC1)
		return false;
	if (swim_r_u8(c) != SWIM_VERSION)
		return false;
	h->type = swim_r_u8(c);
	swim_r_id(c, &h->sender);
	h->sender_nonce = swim_r_u64(c);
	h->view.counter = swim_r_u64(c);
	swim_r_id(c, &h->view.coord.id);
	h->view.coord.nonce = swim_r_u64(c);
	return !c->bad && h->type >= 1 && h->type <= SWIM_MSG_MAX_TYPE;
}

void swim_w_state(struct weft_swim *s, struct swim_cur *c)
{
	struct swim_rec r;
	size_t names = 0;

	for (uint32_t i = 0; i < s->n_used; i++)
		names += SWIM_NAME_LEN(s->m[s->by_id[i]].name_len);
	/* With names the state must still fit one datagram; else none. */
	bool with_names = (size_t)(c->p - (uint8_t *)s->buf) + 2u +
				  (size_t)s->n_used * SWIM_REC_LEN + names <=
			  WEFT_SWIM_MSG_MAX;
	swim_w_u16(c, (uint16_t)s->n_used);
	for (uint32_t i = 0; i < s->n_used; i++) {
		swim_member_to_rec(&s->m[s->by_id[i]], &r);
		r.has_from = false;
		if (!with_names)
			r.name_len = 0;
		swim_w_rec(c, &r);
	}
}

uint64_t swim_cookie(const struct weft_swim *s, const struct weft_swim_addr *from,
		     const struct weft_swim_id *id, uint64_t nonce)
{
	uint8_t b[30];
	struct swim_cur c = { .p = b, .end = b + sizeof(b) };

	swim_w_u32(&c, from->ip);
	swim_w_u16(&c, from->port);
	swim_w_id(&c, id);
	swim_w_u64(&c, nonce);
	return XXH3_64bits_withSeed(b, sizeof(b), s->cookie_key) | 1u;
}
