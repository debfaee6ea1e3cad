/*
 * dp_mc.c — the memcached UDP endpoint on the worker lcores
 * (docs/memcached.md; the protocol's pure part is dp_mc_parse.c).
 *
 * A datagram to the memcached port becomes a command in a pending slot of
 * the lcore and one weft request per key (request_id = slot generation,
 * slot, key index; client_id DP_MC_CLIENT_ID), queued and served by
 * dp_serve_burst within the same burst (the requests point into the
 * datagram's mbuf, freed after). The weft path decides where each is
 * served: here, or forwarded to the key's owner (dp_route.c), with the
 * write replicated; its answer comes back through dp_answer, now or when
 * the owner or the backups answered, and dp_mc_answer renders it.
 *
 * Mapping (values are stored as 4 bytes of flags, little-endian, then the
 * data; cas uniques are weft versions):
 *   get/gets -> GET per key; set/add/replace/cas -> PUT / PUT_IF_ABSENT /
 *   REPLACE / CAS; delete -> DELETE; touch -> TOUCH; append, prepend, incr,
 *   decr -> GET then CAS of the new value (read-modify-write, retried up
 *   to DP_MC_RMW_TRIES times on a conflict).
 *
 * Address validation: memcached has no cookie. A source that is this node,
 * a member of the view or inside cfg.mc_trust is verified; any other gets
 * no answer larger than its request (an oversized answer becomes
 * "SERVER_ERROR unverified source" when that fits, else nothing) and at
 * most the unverified reply rate (dp_amp_tx_allow).
 *
 * Invariants:
 *  - slots, queue and counters belong to one worker; a slot is answered
 *    (or ends silently with noreply) exactly once, at its last sub-answer
 *    or at DP_MC_TIMEOUT_MS;
 *  - the queue is only reset by the outermost flush; answers that arrive
 *    during a flush (local ones) append to it, never move served entries;
 *  - no allocation per command: slot buffers grow once and are kept.
 *
 * Caller: the worker lcore, an online QSBR reader.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include "dp_internal.h"

#define MC_IN_MAX 2048u /* request datagrams beyond: too large */
#define MC_TEXT_MAX (DP_MC_DGRAM_MAX - DP_MC_HDR_LEN)
#define MC_SCAN_MS 100u
#define E_UNVERIFIED "SERVER_ERROR unverified source\r\n"
#define E_BUSY "SERVER_ERROR busy, try again\r\n"
#define E_TIMEOUT "SERVER_ERROR timeout\r\n"

struct dp_mc_slot {
	bool used;
	uint8_t op;              /* enum dp_mc_op */
	bool noreply;
	uint8_t stage;           /* read-modify-write: 0 reading, 1 writing */
	uint8_t tries;
	uint16_t mc_id;          /* the client's request id */
	uint16_t pending;        /* weft answers still awaited */
	uint32_t gen;
	uint32_t flags;
	uint64_t ttl_ms;
	uint64_t delta;
	uint64_t result;         /* incr/decr: the new value */
	uint64_t deadline_ms;
	struct dp_flow flow;     /* the client's, its amplification budget included */
	union {
		struct weft_x_write w;
		struct weft_x_cas c;
	} x;                     /* extras of its one write */
	uint32_t in_len;         /* keys, then an append/prepend operand, in `in` */
	uint16_t key_off[DP_MC_MAX_KEYS];
	uint8_t key_len[DP_MC_MAX_KEYS];
	uint16_t n_keys;
	uint32_t opnd_off, opnd_len;
	uint8_t in[MC_IN_MAX];
	uint8_t *out;            /* the answer's text, kept between uses */
	uint32_t out_len, out_cap;
	uint8_t *val;            /* read-modify-write: the value to CAS */
	uint32_t val_cap;
};

struct dp_mc_lcore {
	uint16_t name_len;
	char name[WEFT_MAX_NAME_LEN + 1];
	uint32_t gen;
	unsigned n_used, hint;
	uint64_t next_scan_ms;
	unsigned q_head, q_tail, flushing;
	struct dp_mc_counters c;
	struct dp_req q[DP_MC_QUEUE];
	struct dp_mc_slot slot[DP_MC_SLOTS];
} __attribute__((aligned(64)));

/* --- setup ---------------------------------------------------------------- */

int dp_mc_create(struct weft_dp *dp)
{
	if (dp->cfg.mc_port == 0)
		return 0;
	const char *name = dp->cfg.mc_cache != NULL ? dp->cfg.mc_cache : "memcached";
	size_t nl = strlen(name);
	if (nl == 0 || nl > WEFT_MAX_NAME_LEN || dp->cfg.mc_port == dp->cfg.udp_port ||
	    dp->cfg.mc_port == dp->cfg.ctl_port || dp->cfg.n_mc_trust > DP_MC_TRUST_MAX)
		return -EINVAL;
	for (unsigned w = 0; w < dp->n_workers; w++) {
		struct dp_mc_lcore *m = aligned_alloc(64, sizeof(*m));
		if (m == NULL)
			return -ENOMEM;
		memset(m, 0, sizeof(*m));
		memcpy(m->name, name, nl);
		m->name_len = (uint16_t)nl;
		dp->lc[w].mc = m;
	}
	dp->mc_port = rte_cpu_to_be_16(dp->cfg.mc_port);
	return 0;
}

void dp_mc_destroy(struct weft_dp *dp)
{
	for (unsigned w = 0; dp->lc != NULL && w < dp->n_workers; w++) {
		struct dp_mc_lcore *m = dp->lc[w].mc;
		if (m == NULL)
			continue;
		for (unsigned i = 0; i < DP_MC_SLOTS; i++) {
			free(m->slot[i].out);
			free(m->slot[i].val);
		}
		free(m);
		dp->lc[w].mc = NULL;
	}
}

/* --- emission --------------------------------------------------------------- */

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One answer datagram: frame header then len bytes of text. */
static void emit_dgram(struct dp_lcore *lc, const struct dp_flow *flow, uint16_t id,
		       uint16_t seq, uint16_t total, const uint8_t *p, uint32_t len)
{
	uint32_t payload = DP_MC_HDR_LEN + len;
	if (unlikely(flow->amp_budget != 0) && !dp_amp_tx_allow(lc, flow, payload))
		return;
	struct rte_mbuf *m = rte_pktmbuf_alloc(lc->dp->pool);
	if (m == NULL) {
		lc->c.drops[DP_DROP_NO_MBUF]++;
		return;
	}
	uint32_t udp_len = DP_UDP_HLEN + payload;
	uint8_t *f = (uint8_t *)rte_pktmbuf_append(m, (uint16_t)(DP_ETH_HLEN + DP_IP_HLEN + udp_len));
	if (f == NULL) {
		rte_pktmbuf_free(m);
		lc->c.drops[DP_DROP_NO_MBUF]++;
		return;
	}
	uint8_t *h = dp_udp_hdrs(f, lc->dp->mac, flow, udp_len);
	wr16(h, id);
	wr16(h + 2, seq);
	wr16(h + 4, total);
	wr16(h + 6, 0);
	memcpy(h + DP_MC_HDR_LEN, p, len);
	lc->mc->c.tx_datagrams++;
	dp_tx_push(lc, m);
}

/* An answer of len bytes, split into datagrams of DP_MC_DGRAM_MAX; to an
 * unverified source only when every datagram together is no larger than
 * its request. */
static void emit(struct dp_lcore *lc, const struct dp_flow *flow, uint16_t id, const uint8_t *p,
		 uint32_t len)
{
	uint32_t n = len == 0 ? 1 : (len + MC_TEXT_MAX - 1) / MC_TEXT_MAX;
	if (flow->amp_budget != 0 && (uint64_t)len + (uint64_t)n * DP_MC_HDR_LEN > flow->amp_budget) {
		lc->mc->c.amp_refused++;
		p = (const uint8_t *)E_UNVERIFIED;
		len = sizeof(E_UNVERIFIED) - 1;
		n = 1;
		if (len + DP_MC_HDR_LEN > flow->amp_budget)
			return;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = i * MC_TEXT_MAX;
		uint32_t l = len - off < MC_TEXT_MAX ? len - off : MC_TEXT_MAX;
		emit_dgram(lc, flow, id, (uint16_t)i, (uint16_t)n, p + off, l);
	}
}

static void emit_line(struct dp_lcore *lc, const struct dp_flow *flow, uint16_t id,
		      const char *line)
{
	emit(lc, flow, id, (const uint8_t *)line, (uint32_t)strlen(line));
}

static void count_line(struct dp_mc_lcore *m, const char *line)
{
	if (strncmp(line, "SERVER_ERROR", 12) == 0)
		m->c.server_errors++;
	else if (strncmp(line, "CLIENT_ERROR", 12) == 0 || strcmp(line, "ERROR\r\n") == 0)
		m->c.client_errors++;
}

/* --- slots ------------------------------------------------------------------ */

static bool out_reserve(struct dp_mc_slot *s, uint32_t more)
{
	uint64_t need = (uint64_t)s->out_len + more;
	if (need > DP_MC_OUT_MAX + 16u)
		return false;
	if (need <= s->out_cap)
		return true;
	uint32_t cap = s->out_cap ? s->out_cap : 2048u;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(s->out, cap);
	if (p == NULL)
		return false;
	s->out = p;
	s->out_cap = cap;
	return true;
}

static void out_put(struct dp_mc_slot *s, const void *p, uint32_t len)
{
	memcpy(s->out + s->out_len, p, len);
	s->out_len += len;
}

static struct dp_mc_slot *slot_new(struct dp_mc_lcore *m, unsigned *idx)
{
	for (unsigned k = 0; k < DP_MC_SLOTS; k++) {
		unsigned i = (m->hint + k) % DP_MC_SLOTS;
		if (!m->slot[i].used) {
			m->hint = (i + 1) % DP_MC_SLOTS;
			m->n_used++;
			*idx = i;
			return &m->slot[i];
		}
	}
	return NULL;
}

/* Ends slot s: its text (or s->out when line is NULL) to the client. */
static void finish(struct dp_lcore *lc, struct dp_mc_slot *s, const char *line)
{
	struct dp_mc_lcore *m = lc->mc;
	if (line != NULL)
		count_line(m, line);
	if (!s->noreply) {
		if (line != NULL)
			emit_line(lc, &s->flow, s->mc_id, line);
		else
			emit(lc, &s->flow, s->mc_id, s->out, s->out_len);
	}
	s->used = false;
	m->n_used--;
}

/* --- weft requests ------------------------------------------------------------ */

/* Appends one weft request of slot s (index si) to the queue; false when
 * it is full (the caller ends the slot). */
static bool queue_req(struct dp_lcore *lc, struct dp_mc_slot *s, unsigned si, uint16_t sub,
		      uint8_t opcode, const uint8_t *key, uint8_t key_len, const void *extras,
		      uint16_t extras_len, const uint8_t *value, uint32_t value_len)
{
	struct dp_mc_lcore *m = lc->mc;
	if (m->q_tail == DP_MC_QUEUE) {
		if (m->flushing)
			return false;
		dp_mc_flush(lc);
	}
	struct dp_req *r = &m->q[m->q_tail++];
	memset(r, 0, sizeof(*r));
	r->hdr.magic = WEFT_WIRE_MAGIC;
	r->hdr.version = WEFT_WIRE_VERSION;
	r->hdr.opcode = opcode;
	r->hdr.name_len = (uint8_t)m->name_len;
	r->hdr.key_len = key_len;
	r->hdr.extras_len = extras_len;
	r->hdr.msg_len = m->name_len + key_len + extras_len + value_len;
	r->hdr.client_id = (uint32_t)DP_MC_CLIENT_ID << 16 | lc->queue;
	r->hdr.request_id = (uint64_t)s->gen << 32 | (uint64_t)si << 16 | sub;
	r->name = (const uint8_t *)m->name;
	r->key = key;
	r->extras = extras;
	r->value = value;
	r->value_len = value_len;
	r->flow = s->flow;
	r->flow.amp_budget = 0; /* the weft path answers us, never the client */
	r->flow.cookie_asked = 0;
	r->flow.auth = 0;
	s->pending++;
	return true;
}

static const uint8_t *slot_key(const struct dp_mc_slot *s, unsigned i)
{
	return s->in + s->key_off[i];
}

/* Read-modify-write, step one: GET the key. */
static bool rmw_read(struct dp_lcore *lc, struct dp_mc_slot *s, unsigned si)
{
	s->stage = 0;
	return queue_req(lc, s, si, 0, WEFT_OP_GET, slot_key(s, 0), s->key_len[0], NULL, 0, NULL,
			 0);
}

void dp_mc_flush(struct dp_lcore *lc)
{
	struct dp_mc_lcore *m = lc->mc;
	if (m == NULL)
		return;
	m->flushing++;
	while (m->q_head < m->q_tail) {
		unsigned k = m->q_tail - m->q_head;
		if (k > DP_BURST)
			k = DP_BURST;
		struct dp_req *batch = &m->q[m->q_head];
		m->q_head += k; /* before serving: answers may append */
		dp_serve_burst(lc, batch, k);
	}
	if (--m->flushing == 0)
		m->q_head = m->q_tail = 0;
}

/* --- ingress ------------------------------------------------------------------ */

static bool trusted(const struct weft_dp *dp, uint32_t ip)
{
	for (unsigned i = 0; i < dp->cfg.n_mc_trust; i++)
		if ((ip & dp->cfg.mc_trust[i].mask) == dp->cfg.mc_trust[i].ip)
			return true;
	return false;
}

static uint8_t weft_op_of(enum dp_mc_op op)
{
	switch (op) {
	case DP_MC_SET:
		return WEFT_OP_PUT;
	case DP_MC_ADD:
		return WEFT_OP_PUT_IF_ABSENT;
	case DP_MC_REPLACE:
		return WEFT_OP_REPLACE;
	case DP_MC_CAS:
		return WEFT_OP_CAS;
	case DP_MC_DELETE:
		return WEFT_OP_DELETE;
	case DP_MC_TOUCH:
		return WEFT_OP_TOUCH;
	default:
		return WEFT_OP_GET;
	}
}

/* Starts the weft requests of a parsed command in slot s. */
static bool start(struct dp_lcore *lc, struct dp_mc_slot *s, unsigned si,
		  const struct dp_mc_cmd *cmd)
{
	switch (cmd->op) {
	case DP_MC_GET:
	case DP_MC_GETS:
		for (unsigned i = 0; i < s->n_keys; i++)
			if (!queue_req(lc, s, si, (uint16_t)i, WEFT_OP_GET, slot_key(s, i),
				       s->key_len[i], NULL, 0, NULL, 0))
				return false;
		return true;
	case DP_MC_SET:
	case DP_MC_ADD:
	case DP_MC_REPLACE:
	case DP_MC_CAS: {
		/* The flags go in front of the data, over the end of the
		 * command line (at least " 0 0 N\r\n" lies between key and data). */
		uint8_t *v = (uint8_t *)(uintptr_t)cmd->data - DP_MC_FLAGS_LEN;
		uint32_t fl = rte_cpu_to_le_32(cmd->flags);
		memcpy(v, &fl, DP_MC_FLAGS_LEN);
		uint16_t xl = sizeof(s->x.w);
		if (cmd->op == DP_MC_CAS) {
			s->x.c = (struct weft_x_cas){cmd->cas, s->ttl_ms, 0};
			xl = sizeof(s->x.c);
		} else {
			s->x.w = (struct weft_x_write){s->ttl_ms, 0};
		}
		return queue_req(lc, s, si, 0, weft_op_of(cmd->op), slot_key(s, 0), s->key_len[0],
				 &s->x, xl, v, cmd->bytes + DP_MC_FLAGS_LEN);
	}
	case DP_MC_DELETE:
		return queue_req(lc, s, si, 0, WEFT_OP_DELETE, slot_key(s, 0), s->key_len[0], NULL,
				 0, NULL, 0);
	case DP_MC_TOUCH:
		s->x.w = (struct weft_x_write){s->ttl_ms, 0};
		return queue_req(lc, s, si, 0, WEFT_OP_TOUCH, slot_key(s, 0), s->key_len[0], &s->x,
				 sizeof(s->x.w), NULL, 0);
	case DP_MC_APPEND:
	case DP_MC_PREPEND:
	case DP_MC_INCR:
	case DP_MC_DECR:
		return rmw_read(lc, s, si);
	case DP_MC_OP__COUNT:
		break;
	}
	return false;
}

void dp_mc_rx(struct dp_lcore *lc, const struct dp_pkt *pkt)
{
	struct dp_mc_lcore *m = lc->mc;
	struct weft_dp *dp = lc->dp;
	m->c.rx++;
	struct dp_flow flow = pkt->flow;
	flow.auth = 0;
	flow.cookie_asked = 0;
	flow.amp_budget = dp_amp_exempt(dp, dp_members_current(dp), flow.src_ip) ||
					  trusted(dp, flow.src_ip)
				  ? 0
				  : pkt->payload_len;
	if (flow.amp_budget != 0)
		m->c.unverified++;
	struct dp_mc_cmd cmd;
	const char *err = NULL;
	enum dp_mc_parse_rc rc = dp_mc_parse(pkt->payload, pkt->payload_len, &cmd, &err);
	if (rc == DP_MC_PARSED && pkt->payload_len > MC_IN_MAX) {
		rc = DP_MC_ANSWER;
		err = "SERVER_ERROR object too large for cache\r\n";
	}
	if (rc == DP_MC_DROP) {
		m->c.drop_short++;
		return;
	}
	if (rc == DP_MC_ANSWER) {
		count_line(m, err);
		if (!cmd.noreply)
			emit_line(lc, &flow, cmd.req_id, err);
		return;
	}
	m->c.cmds[cmd.op]++;
	unsigned si;
	struct dp_mc_slot *s = slot_new(m, &si);
	if (s == NULL) {
		m->c.no_slot++;
		m->c.server_errors++;
		if (!cmd.noreply)
			emit_line(lc, &flow, cmd.req_id, E_BUSY);
		return;
	}
	s->used = true;
	s->op = (uint8_t)cmd.op;
	s->noreply = cmd.noreply;
	s->stage = 0;
	s->tries = 0;
	s->mc_id = cmd.req_id;
	s->pending = 0;
	s->gen = ++m->gen;
	s->flags = cmd.flags;
	s->delta = cmd.delta;
	s->flow = flow;
	s->deadline_ms = lc->now_ms + DP_MC_TIMEOUT_MS;
	s->out_len = 0;
	s->ttl_ms = cmd.exptime > 60 * 60 * 24 * 30 ? dp_mc_ttl_ms(cmd.exptime, dp_unix_ms() / 1000)
						    : dp_mc_ttl_ms(cmd.exptime, 0);
	/* Keys (and an append/prepend operand) into the slot: the weft path
	 * may answer after the datagram is gone. All of them came in one
	 * datagram of at most MC_IN_MAX bytes. */
	s->in_len = 0;
	s->n_keys = (uint16_t)cmd.n_keys;
	for (unsigned i = 0; i < cmd.n_keys; i++) {
		s->key_off[i] = (uint16_t)s->in_len;
		s->key_len[i] = cmd.key_len[i];
		memcpy(s->in + s->in_len, cmd.key[i], cmd.key_len[i]);
		s->in_len += cmd.key_len[i];
	}
	s->opnd_off = s->in_len;
	s->opnd_len = 0;
	if (cmd.op == DP_MC_APPEND || cmd.op == DP_MC_PREPEND) {
		memcpy(s->in + s->in_len, cmd.data, cmd.bytes);
		s->opnd_len = cmd.bytes;
		s->in_len += cmd.bytes;
	}
	if (!start(lc, s, si, &cmd)) {
		/* Only a full queue while flushing gets here; nothing was
		 * queued for a single-key command, keys queued so far of a get
		 * find the slot ended (stale). */
		s->pending = 0;
		finish(lc, s, E_BUSY);
	}
}

/* --- answers -------------------------------------------------------------- */

static void get_answer(struct dp_lcore *lc, struct dp_mc_slot *s, unsigned sub, uint16_t status,
		       const void *extras, uint16_t extras_len, const uint8_t *value,
		       uint32_t value_len)
{
	struct dp_mc_lcore *m = lc->mc;
	if (status == WEFT_ST_OK && sub < s->n_keys) {
		uint64_t version = 0;
		if (extras_len >= sizeof(version))
			memcpy(&version, extras, sizeof(version));
		uint32_t flags = 0;
		const uint8_t *data = value;
		uint32_t len = value_len;
		if (len >= DP_MC_FLAGS_LEN) {
			memcpy(&flags, value, DP_MC_FLAGS_LEN);
			flags = rte_le_to_cpu_32(flags);
			data += DP_MC_FLAGS_LEN;
			len -= DP_MC_FLAGS_LEN;
		}
		char line[320];
		uint32_t ll = dp_mc_value_line(line, sizeof(line), slot_key(s, sub), s->key_len[sub],
					       flags, len, s->op == DP_MC_GETS, version);
		if (len <= DP_MC_OUT_MAX && out_reserve(s, ll + len + 2)) {
			out_put(s, line, ll);
			out_put(s, data, len);
			out_put(s, "\r\n", 2);
			m->c.get_hits++;
		} else {
			m->c.get_truncated++;
		}
	} else if (status == WEFT_ST_NOT_FOUND) {
		m->c.get_misses++;
	} else {
		m->c.get_errors++;
	}
	if (--s->pending > 0)
		return;
	if (out_reserve(s, 5))
		out_put(s, "END\r\n", 5);
	finish(lc, s, NULL);
}

/* Makes room for a value of len bytes in s->val. */
static bool val_reserve(struct dp_mc_slot *s, uint32_t len)
{
	if (len <= s->val_cap)
		return true;
	uint32_t cap = s->val_cap ? s->val_cap : 2048u;
	while (cap < len)
		cap *= 2;
	uint8_t *p = realloc(s->val, cap);
	if (p == NULL)
		return false;
	s->val = p;
	s->val_cap = cap;
	return true;
}

/* Read-modify-write, step two: the value read is there; CAS the new one. */
static void rmw_write(struct dp_lcore *lc, struct dp_mc_slot *s, unsigned si, uint64_t version,
		      const uint8_t *value, uint32_t value_len)
{
	uint8_t flags[DP_MC_FLAGS_LEN] = {0};
	const uint8_t *data = value;
	uint32_t len = value_len;
	if (len >= DP_MC_FLAGS_LEN) {
		memcpy(flags, value, DP_MC_FLAGS_LEN);
		data += DP_MC_FLAGS_LEN;
		len -= DP_MC_FLAGS_LEN;
	}
	uint32_t total;
	if (s->op == DP_MC_INCR || s->op == DP_MC_DECR) {
		if (dp_mc_incr(data, len, s->delta, s->op == DP_MC_DECR, &s->result) != 0) {
			finish(lc, s, dp_mc_status_line((enum dp_mc_op)s->op, WEFT_ST_NOT_NUMERIC));
			return;
		}
		char num[24];
		int n = snprintf(num, sizeof(num), "%" PRIu64, s->result);
		total = DP_MC_FLAGS_LEN + (uint32_t)n;
		if (!val_reserve(s, total)) {
			finish(lc, s, "SERVER_ERROR out of memory storing object\r\n");
			return;
		}
		memcpy(s->val, flags, DP_MC_FLAGS_LEN);
		memcpy(s->val + DP_MC_FLAGS_LEN, num, (size_t)n);
	} else {
		total = DP_MC_FLAGS_LEN + len + s->opnd_len;
		if (total - DP_MC_FLAGS_LEN > WEFT_MAX_VALUE_LEN - DP_MC_FLAGS_LEN) {
			finish(lc, s, "SERVER_ERROR object too large for cache\r\n");
			return;
		}
		if (!val_reserve(s, total)) {
			finish(lc, s, "SERVER_ERROR out of memory storing object\r\n");
			return;
		}
		const uint8_t *opnd = s->in + s->opnd_off;
		memcpy(s->val, flags, DP_MC_FLAGS_LEN);
		uint8_t *w = s->val + DP_MC_FLAGS_LEN;
		if (s->op == DP_MC_APPEND) {
			memcpy(w, data, len);
			memcpy(w + len, opnd, s->opnd_len);
		} else {
			memcpy(w, opnd, s->opnd_len);
			memcpy(w + s->opnd_len, data, len);
		}
	}
	s->stage = 1;
	s->x.c = (struct weft_x_cas){version, 0, 0};
	if (!queue_req(lc, s, si, 0, WEFT_OP_CAS, slot_key(s, 0), s->key_len[0], &s->x,
		       sizeof(s->x.c), s->val, total))
		finish(lc, s, E_BUSY);
}

static void rmw_answer(struct dp_lcore *lc, struct dp_mc_slot *s, unsigned si, uint16_t status,
		       const void *extras, uint16_t extras_len, const uint8_t *value,
		       uint32_t value_len)
{
	s->pending--;
	enum dp_mc_op op = (enum dp_mc_op)s->op;
	if (s->stage == 0) {
		if (status != WEFT_ST_OK) {
			finish(lc, s, dp_mc_status_line(op, status));
			return;
		}
		uint64_t version = 0;
		if (extras_len >= sizeof(version))
			memcpy(&version, extras, sizeof(version));
		rmw_write(lc, s, si, version, value, value_len);
		return;
	}
	if (status == WEFT_ST_VERSION_MISMATCH && ++s->tries < DP_MC_RMW_TRIES) {
		lc->mc->c.rmw_retries++;
		if (!rmw_read(lc, s, si))
			finish(lc, s, E_BUSY);
		return;
	}
	if (status == WEFT_ST_VERSION_MISMATCH) {
		finish(lc, s, E_BUSY);
		return;
	}
	if (status == WEFT_ST_OK && (op == DP_MC_INCR || op == DP_MC_DECR)) {
		char num[32];
		snprintf(num, sizeof(num), "%" PRIu64 "\r\n", s->result);
		finish(lc, s, num);
		return;
	}
	finish(lc, s, dp_mc_status_line(op, status));
}

void dp_mc_answer(struct dp_lcore *lc, const struct dp_req *req, uint16_t status,
		  const void *extras, uint16_t extras_len, const void *value, uint32_t value_len)
{
	struct dp_mc_lcore *m = lc->mc;
	if (m == NULL)
		return;
	unsigned si = (unsigned)(req->hdr.request_id >> 16) & 0xffffu;
	unsigned sub = (unsigned)req->hdr.request_id & 0xffffu;
	uint32_t gen = (uint32_t)(req->hdr.request_id >> 32);
	struct dp_mc_slot *s = si < DP_MC_SLOTS ? &m->slot[si] : NULL;
	if (s == NULL || !s->used || s->gen != gen ||
	    req->hdr.client_id != ((uint32_t)DP_MC_CLIENT_ID << 16 | lc->queue) || s->pending == 0) {
		m->c.stale_answers++;
		return;
	}
	switch ((enum dp_mc_op)s->op) {
	case DP_MC_GET:
	case DP_MC_GETS:
		get_answer(lc, s, sub, status, extras, extras_len, value, value_len);
		return;
	case DP_MC_APPEND:
	case DP_MC_PREPEND:
	case DP_MC_INCR:
	case DP_MC_DECR:
		rmw_answer(lc, s, si, status, extras, extras_len, value, value_len);
		return;
	default:
		s->pending--;
		finish(lc, s, dp_mc_status_line((enum dp_mc_op)s->op, status));
		return;
	}
}

/* --- timers and stats --------------------------------------------------------- */

void dp_mc_tick(struct dp_lcore *lc)
{
	struct dp_mc_lcore *m = lc->mc;
	if (m->q_tail > 0)
		dp_mc_flush(lc);
	if (m->n_used == 0)
		return;
	uint64_t now = weft_dp_now_ms(lc->dp);
	if (now < m->next_scan_ms)
		return;
	m->next_scan_ms = now + MC_SCAN_MS;
	for (unsigned i = 0; i < DP_MC_SLOTS && m->n_used > 0; i++) {
		struct dp_mc_slot *s = &m->slot[i];
		if (!s->used || now < s->deadline_ms)
			continue;
		m->c.timeouts++;
		s->pending = 0;
		if (s->op == DP_MC_GET || s->op == DP_MC_GETS) {
			if (out_reserve(s, 5))
				out_put(s, "END\r\n", 5);
			finish(lc, s, NULL);
		} else {
			finish(lc, s, E_TIMEOUT);
		}
	}
}

static void put_mc(struct dp_text *o, const char *prefix, const struct dp_mc_counters *c)
{
	dp_text_put(o, "%s.rx %" PRIu64 "\n", prefix, c->rx);
	for (unsigned i = 0; i < DP_MC_OP__COUNT; i++)
		dp_text_put(o, "%s.cmd.%s %" PRIu64 "\n", prefix, dp_mc_op_name(i), c->cmds[i]);
#define P(f) dp_text_put(o, "%s." #f " %" PRIu64 "\n", prefix, c->f)
	P(get_hits);
	P(get_misses);
	P(get_errors);
	P(get_truncated);
	P(drop_short);
	P(client_errors);
	P(server_errors);
	P(no_slot);
	P(timeouts);
	P(rmw_retries);
	P(tx_datagrams);
	P(unverified);
	P(amp_refused);
	P(stale_answers);
#undef P
}

void dp_mc_stats_format(struct weft_dp *dp, struct dp_text *o)
{
	if (dp->mc_port == 0)
		return;
	struct dp_mc_counters t;
	memset(&t, 0, sizeof(t));
	dp_text_put(o, "mc.port %u\nmc.cache %s\n", rte_be_to_cpu_16(dp->mc_port),
		    dp->lc[0].mc->name);
	for (unsigned w = 0; w < dp->n_workers; w++) {
		const struct dp_mc_counters *c = &dp->lc[w].mc->c;
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "mc.lcore.%u", w + 1);
		put_mc(o, prefix, c);
		const uint64_t *a = (const uint64_t *)c;
		uint64_t *b = (uint64_t *)&t;
		for (size_t i = 0; i < sizeof(t) / sizeof(uint64_t); i++)
			b[i] += a[i];
	}
	put_mc(o, "mc.total", &t);
}
