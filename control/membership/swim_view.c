/*
 * swim_view.c — numbered views. A view lists member lives (id, nonce) in
 * seniority order: a coordinator keeps the surviving members of the previous
 * view in their order and appends newcomers (by id). The coordinator is the
 * first member of the node's current view that its table holds live (same
 * nonce) — the oldest member; if none is live, the live member with the
 * smallest id. Only a node holding a view (joined, or bootstrapped alone)
 * may coordinate.
 *
 * Dissemination: every message header carries the sender's view id; a node
 * that sees a larger one asks the sender (VIEW_REQ, at most once per probe
 * interval per view id) and adopts the VIEW it gets if still larger. The
 * installer also pushes the view to up to 16 random members.
 *
 * A view is the installer's word that the lives it lists are live: a node
 * adopting one records a listed life of which it holds only an older life,
 * DOWN or LEFT (swim_view_life), so it probes it and, as coordinator, keeps
 * it unless it fails its probes (S5 in docs/simulation.md).
 *
 * Invariants: view_id only increases; an installed counter exceeds every
 * counter this life has seen, and the installer's (id, nonce) is part of
 * the view id, so one view id always names one membership list; the
 * installer is a member of the views it installs; n_view <= max_members.
 */
#include <errno.h>
#include <string.h>

#include "swim_wire.h"

#define VIEW_PUSH_FANOUT 16u

int weft_swim_view_id_cmp(const struct weft_swim_view_id *a,
			  const struct weft_swim_view_id *b)
{
	int c;

	if (a->counter != b->counter)
		return a->counter < b->counter ? -1 : 1;
	c = swim_id_cmp(&a->coord.id, &b->coord.id);
	if (c)
		return c;
	if (a->coord.nonce != b->coord.nonce)
		return a->coord.nonce < b->coord.nonce ? -1 : 1;
	return 0;
}

static uint16_t coord_slot(const struct weft_swim *s)
{
	if (!s->have_view)
		return SWIM_NO_SLOT;
	for (uint32_t i = 0; i < s->n_view; i++) {
		uint16_t slot = swim_find(s, &s->view[i].id);

		if (slot != SWIM_NO_SLOT && s->m[slot].nonce == s->view[i].nonce &&
		    swim_live_state(s->m[slot].state))
			return slot;
	}
	for (uint32_t i = 0; i < s->n_used; i++)
		if (swim_live_state(s->m[s->by_id[i]].state))
			return s->by_id[i];
	return SWIM_NO_SLOT;
}

bool swim_view_is_coord(const struct weft_swim *s)
{
	return coord_slot(s) == 0;
}

bool swim_view_lists_self(const struct weft_swim *s)
{
	if (!s->have_view)
		return false;
	for (uint32_t i = 0; i < s->n_view; i++)
		if (swim_id_cmp(&s->view[i].id, &s->cfg.id) == 0 &&
		    s->view[i].nonce == s->cfg.nonce)
			return true;
	return false;
}

static void emit_view(struct weft_swim *s)
{
	struct weft_swim_event ev = {
		.kind = WEFT_SWIM_EV_VIEW, .view_id = s->view_id,
		.view = s->view, .n_view = s->n_view,
	};
	swim_emit(s, &ev);
}

void swim_view_send(struct weft_swim *s, const struct weft_swim_addr *to)
{
	struct swim_cur c;

	if (!s->have_view)
		return;
	c = swim_msg_begin(s, SWIM_MSG_VIEW);
	swim_w_u64(&c, s->view_id.counter);
	swim_w_id(&c, &s->view_id.coord.id);
	swim_w_u64(&c, s->view_id.coord.nonce);
	swim_w_u16(&c, (uint16_t)s->n_view);
	for (uint32_t i = 0; i < s->n_view; i++) {
		swim_w_id(&c, &s->view[i].id);
		swim_w_u64(&c, s->view[i].nonce);
	}
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

static void install(struct weft_swim *s, uint32_t n)
{
	uint64_t counter = s->view_id.counter > s->max_counter_seen
				   ? s->view_id.counter : s->max_counter_seen;
	uint32_t pushed = 0, start;

	s->view_id.counter = counter + 1;
	s->max_counter_seen = counter + 1;
	s->view_id.coord.id = s->cfg.id;
	s->view_id.coord.nonce = s->cfg.nonce;
	memcpy(s->view, s->vscratch, n * sizeof(s->view[0]));
	s->n_view = n;
	s->have_view = true;
	emit_view(s);
	if (n < 2)
		return;
	start = swim_rand_below(s, n);
	for (uint32_t i = 0; i < n && pushed < VIEW_PUSH_FANOUT; i++) {
		const struct weft_swim_view_member *v = &s->view[(start + i) % n];
		uint16_t slot = swim_find(s, &v->id);

		if (slot == 0 || slot == SWIM_NO_SLOT)
			continue;
		swim_view_send(s, &s->m[slot].addr);
		pushed++;
	}
}

void swim_view_bootstrap(struct weft_swim *s, uint64_t now)
{
	(void)now;
	s->vscratch[0].id = s->cfg.id;
	s->vscratch[0].nonce = s->cfg.nonce;
	install(s, 1);
}

/* Desired membership into vscratch: survivors in order, then newcomers. */
static uint32_t desired(struct weft_swim *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->n_used; i++)
		s->m[s->by_id[i]].in_view = 0;
	for (uint32_t i = 0; i < s->n_view; i++) {
		uint16_t slot = swim_find(s, &s->view[i].id);

		if (slot == SWIM_NO_SLOT || s->m[slot].nonce != s->view[i].nonce ||
		    !swim_live_state(s->m[slot].state) || s->m[slot].in_view)
			continue;
		s->m[slot].in_view = 1;
		s->vscratch[n++] = s->view[i];
	}
	for (uint32_t i = 0; i < s->n_used; i++) {
		struct swim_member *m = &s->m[s->by_id[i]];

		if (!swim_live_state(m->state) || m->in_view)
			continue;
		s->vscratch[n].id = m->id;
		s->vscratch[n].nonce = m->nonce;
		n++;
	}
	return n;
}

/* Lives the view lists that this node holds only an older life of, down:
 * the installer held them live, so record them (swim_view_life). */
static void view_lives(struct weft_swim *s, uint64_t now)
{
	for (uint32_t i = 0; i < s->n_view; i++)
		swim_view_life(s, now, &s->view[i].id, s->view[i].nonce);
}

void swim_view_tick(struct weft_swim *s, uint64_t now)
{
	uint32_t n;

	if (!s->view_dirty)
		return;
	view_lives(s, now);
	if (s->phase != SWIM_MEMBER || !swim_view_is_coord(s)) {
		s->view_dirty = false;
		return;
	}
	n = desired(s);
	if (n == s->n_view &&
	    memcmp(s->vscratch, s->view, n * sizeof(s->view[0])) == 0) {
		s->view_dirty = false;
		return;
	}
	if (now < s->next_view_ms)
		return;                 /* batch: install at next_view_ms */
	install(s, n);
	s->view_dirty = false;
	s->next_view_ms = now + s->cfg.view_min_interval_ms;
}

void swim_view_seen(struct weft_swim *s, uint64_t now,
		    const struct weft_swim_addr *from,
		    const struct weft_swim_view_id *vid)
{
	if (vid->counter == 0)
		return;
	if (vid->counter > s->max_counter_seen)
		s->max_counter_seen = vid->counter;
	if (s->have_view && weft_swim_view_id_cmp(vid, &s->view_id) <= 0)
		return;
	if (weft_swim_view_id_cmp(vid, &s->view_req_for) == 0 &&
	    now < s->view_req_at + s->cfg.probe_interval_ms)
		return;
	s->view_req_for = *vid;
	s->view_req_at = now;
	swim_view_request(s, from, 0);
}

void swim_view_request(struct weft_swim *s, const struct weft_swim_addr *to,
		       uint64_t cookie)
{
	struct swim_cur c = swim_msg_begin(s, SWIM_MSG_VIEW_REQ);

	swim_w_u64(&c, cookie);
	if (!c.bad)
		swim_send(s, to, s->buf, (size_t)(c.p - s->buf));
}

void swim_view_on_msg(struct weft_swim *s, uint64_t now,
		      const struct weft_swim_view_id *vid,
		      const struct weft_swim_view_member *mem, uint32_t n)
{
	bool has_coord = false;

	if (vid->counter > s->max_counter_seen)
		s->max_counter_seen = vid->counter;
	if (n == 0 || n > s->cfg.max_members)
		return;
	if (s->have_view && weft_swim_view_id_cmp(vid, &s->view_id) <= 0)
		return;
	for (uint32_t i = 0; i < n && !has_coord; i++)
		has_coord = swim_id_cmp(&mem[i].id, &vid->coord.id) == 0 &&
			    mem[i].nonce == vid->coord.nonce;
	if (!has_coord)
		return;
	if (mem != s->view)
		memmove(s->view, mem, n * sizeof(s->view[0]));
	s->n_view = n;
	s->view_id = *vid;
	s->have_view = true;
	s->view_dirty = true;
	emit_view(s);
	view_lives(s, now);
}

int weft_swim_member_info(const struct weft_swim *s,
			  const struct weft_swim_id *id,
			  struct weft_swim_member_info *out)
{
	uint16_t slot = swim_find(s, id);
	const struct swim_member *m;

	if (slot == SWIM_NO_SLOT)
		return -ENOENT;
	m = &s->m[slot];
	out->nonce = m->nonce;
	out->addr = m->addr;
	out->state = (enum weft_swim_state)m->state;
	out->incarnation = m->inc;
	memcpy(out->name, m->name, (size_t)m->name_len + 1);
	return 0;
}
