/*
 * swim_internal.h — private state of the membership state machine, shared by
 * the files of control/membership/ (never included outside it).
 *
 * Files: swim.c (API, timers, join/leave/sync), swim_recv.c (datagram
 * dispatch), swim_members.c
 * (member table, update precedence, suspicion, broadcast queue), swim_probe.c
 * (probe, ping-req relay, Lifeguard awareness), swim_view.c (coordinator,
 * views), swim_wire.c (encode/decode), segments.c (ownership).
 *
 * Invariants (checked by tests/sim):
 *  - slot 0 is this node; m[0].id/nonce never change.
 *  - by_id[0..n_used) holds every used slot exactly once, sorted by id; a
 *    node id appears at most once in the table (one life per id).
 *  - bq[0..n_bq) holds distinct used slots with queued == 1, and only those.
 *  - n_used <= cfg.max_members; relays <= SWIM_MAX_RELAYS; every table is
 *    allocated in weft_swim_create() and never grows.
 *  - view_id only increases; a view this life installs has counter >
 *    every counter it has seen.
 *  - nothing reads a clock: time only comes in through now_ms arguments.
 */
#ifndef WEFT_CONTROL_SWIM_INTERNAL_H
#define WEFT_CONTROL_SWIM_INTERNAL_H

#include "membership.h"

#define SWIM_STATE_FREE 0xffu          /* slot unused */
#define SWIM_MAX_CONFIRM 8u            /* Lifeguard: confirmations tracked */
#define SWIM_MAX_RELAYS 64u            /* ping-req relays in flight */
#define SWIM_NO_SLOT 0xffffu
#define SWIM_REASON_MAX 320u

enum swim_phase {
	SWIM_IDLE,      /* created, join not called */
	SWIM_JOINING,   /* JOIN / ANNOUNCE sent, waiting for JOIN_ACK */
	SWIM_MEMBER,    /* in a cluster */
	SWIM_LEAVING,   /* LEFT gossiped for leave_linger_ms */
	SWIM_DONE,      /* left; inert */
	SWIM_REFUSED,   /* duplicate id; inert */
};

struct swim_member {
	struct weft_swim_id id;
	uint64_t nonce;
	struct weft_swim_addr addr;
	uint32_t inc;
	uint8_t state;          /* enum weft_swim_state or SWIM_STATE_FREE */
	uint8_t tx;             /* times gossiped since last change */
	uint8_t queued;         /* in bq[] */
	uint8_t n_confirm;      /* independent suspicion confirmations */
	uint8_t k_confirm;      /* confirmations expected (Lifeguard k) */
	uint8_t in_view;        /* scratch mark for view computation */
	uint32_t bq_gen;        /* newer updates gossip first */
	uint64_t since_ms;      /* last state change (suspicion start, GC) */
	uint64_t suspect_deadline;
	uint32_t susp_min_ms, susp_max_ms;
	uint32_t confirm[SWIM_MAX_CONFIRM];  /* hashes of confirmers' ids */
	struct weft_swim_id susp_from;       /* `from` gossiped with SUSPECT */
	uint8_t name_len;                    /* <= WEFT_SWIM_NAME_MAX */
	char name[WEFT_SWIM_NAME_MAX + 1];   /* NUL-terminated; fixed per life */
};

/* A gossip/state record as on the wire. */
struct swim_rec {
	struct weft_swim_id id;
	uint64_t nonce;
	struct weft_swim_addr addr;
	uint32_t inc;
	uint8_t state;
	bool has_from;
	struct weft_swim_id from;
	uint8_t name_len;                    /* <= WEFT_SWIM_NAME_MAX */
	char name[WEFT_SWIM_NAME_MAX + 1];   /* NUL-terminated */
};

/* A ping-req this node relays for a requester. */
struct swim_relay {
	bool used;
	uint32_t seq;                  /* our ping's seq */
	uint32_t req_seq;              /* requester's seq */
	struct weft_swim_addr req_addr;
	struct weft_swim_id target;
	uint64_t target_nonce;
	uint64_t nack_at;
};

struct swim_probe {
	bool active;
	bool indirect_sent;
	uint16_t slot;
	struct weft_swim_id id;
	uint64_t nonce;
	uint32_t seq;
	uint64_t sent_ms;          /* when the ping went: the lease's evidence time */
	uint32_t nacks_expected;
	uint32_t nacks_got;
	uint64_t direct_deadline;
	uint64_t end_deadline;
};

struct weft_swim {
	struct weft_swim_config cfg;
	uint64_t rng;
	enum swim_phase phase;
	const struct weft_swim_sink *sink;   /* set for the duration of a call */

	struct swim_member *m;     /* [max_members]; slot 0 = self */
	uint32_t n_slots;          /* high-water mark of slots used */
	uint16_t *by_id;           /* used slots sorted by id */
	uint32_t n_used;
	uint32_t n_live;            /* alive + suspect, self included */
	uint16_t *bq;              /* broadcast queue (slots) */
	uint32_t n_bq;
	uint32_t bq_gen;

	uint16_t *order;           /* this probe round, shuffled */
	uint32_t n_order, order_pos;
	struct swim_probe probe;
	uint64_t next_probe_ms;
	uint32_t seq;
	struct swim_relay relays[SWIM_MAX_RELAYS];
	uint32_t awareness;
	uint64_t next_suspect_ms;  /* earliest suspicion deadline (lower bound) */
	uint64_t confirmed_ms;     /* the lease's evidence (weft_swim_lease_until) */
	/* A lease ping in flight (swim_lease_tick): seq 0 = none. */
	uint32_t lease_seq, lease_rr;
	uint64_t lease_sent_ms, lease_nonce, next_lease_ms;
	struct weft_swim_id lease_id;

	struct weft_swim_addr seeds[WEFT_SWIM_MAX_SEEDS];
	unsigned n_seeds, seed_rr;
	uint64_t join_deadline;    /* bootstrap alone at this time */
	/* JOINING by announce (no seeds): a member whose VIEW lists this
	 * life (it admitted us, its JOIN_ACK was lost); JOINs retry to it. */
	struct weft_swim_addr join_via;
	bool have_join_via;
	uint64_t next_join_ms;
	uint64_t next_sync_ms;
	uint32_t sync_round;
	uint64_t next_gc_ms;
	uint64_t leave_done_ms;

	bool have_view;
	struct weft_swim_view_id view_id;
	struct weft_swim_view_member *view;     /* [max_members] */
	uint32_t n_view;
	struct weft_swim_view_member *vscratch; /* [max_members] */
	uint64_t max_counter_seen;
	bool view_dirty;           /* member states changed since last check */
	uint64_t next_view_ms;     /* coordinator: earliest next install */
	struct weft_swim_view_id view_req_for;
	uint64_t view_req_at;

	uint64_t cookie_key;       /* secret of this life (address cookies) */
	struct weft_swim_addr sync_sent[4];   /* last SYNC targets (cookie) */
	uint32_t sync_sent_pos;
	uint8_t *buf;              /* encode scratch, WEFT_SWIM_MSG_MAX */
	uint64_t deadline;         /* cached next deadline */
	char reason[SWIM_REASON_MAX];
	struct weft_swim_stats st;
};

/* ---- swim.c ---- */
void swim_finish(struct weft_swim *s, uint64_t now);
void swim_send_state(struct weft_swim *s, uint8_t type,
		     const struct weft_swim_addr *to);
void swim_become_member(struct weft_swim *s, uint64_t now);
void swim_send_sync(struct weft_swim *s, const struct weft_swim_addr *to,
		    uint64_t cookie);
void swim_send_join(struct weft_swim *s, const struct weft_swim_addr *to,
		    uint64_t cookie);
uint64_t swim_rand(struct weft_swim *s);
uint32_t swim_rand_below(struct weft_swim *s, uint32_t n);
uint64_t swim_scaled(const struct weft_swim *s, uint32_t ms);
void swim_send(struct weft_swim *s, const struct weft_swim_addr *to,
	       const void *buf, size_t len);
void swim_emit(struct weft_swim *s, const struct weft_swim_event *ev);
int swim_id_cmp(const struct weft_swim_id *a, const struct weft_swim_id *b);
bool swim_addr_eq(const struct weft_swim_addr *a,
		  const struct weft_swim_addr *b);
bool swim_live_state(uint8_t state);

/* ---- swim_members.c ---- */
enum swim_source { SWIM_SRC_GOSSIP, SWIM_SRC_SYNC, SWIM_SRC_JOIN };
uint16_t swim_find(const struct weft_swim *s, const struct weft_swim_id *id);
void swim_apply(struct weft_swim *s, uint64_t now, const struct swim_rec *r,
		enum swim_source src);
void swim_suspect(struct weft_swim *s, uint64_t now, uint16_t slot,
		  const struct weft_swim_id *from);
void swim_check_suspicions(struct weft_swim *s, uint64_t now);
void swim_gc(struct weft_swim *s, uint64_t now);
void swim_enqueue(struct weft_swim *s, uint16_t slot);
size_t swim_put_gossip(struct weft_swim *s, uint8_t *p, size_t room, uint16_t buddy);
void swim_member_to_rec(const struct swim_member *m, struct swim_rec *r);
void swim_refute(struct weft_swim *s, uint32_t seen_inc);
/* A view lists life (id, nonce) while this node holds an older life of
 * that id DOWN or LEFT: records the listed life ALIVE (incarnation 0, the
 * known address and node name, not gossiped), so it is probed like any member. No-op for
 * self, an unknown id, a live record or a record of that life or a newer. */
void swim_view_life(struct weft_swim *s, uint64_t now,
		    const struct weft_swim_id *id, uint64_t nonce);
void swim_heard_from(struct weft_swim *s, const struct weft_swim_id *id,
		     uint64_t nonce);

/* ---- swim_probe.c ---- */
void swim_probe_tick(struct weft_swim *s, uint64_t now);
void swim_relays_tick(struct weft_swim *s, uint64_t now);
void swim_on_ping(struct weft_swim *s, const struct weft_swim_addr *from,
		  bool known, uint32_t seq, const struct weft_swim_id *target,
		  uint64_t target_nonce);
/* Renews the lease by a plain ping (no suspicion if unanswered) when the
 * probes have not for half of it; swim_lease_deadline: when it is due. */
void swim_lease_tick(struct weft_swim *s, uint64_t now);
uint64_t swim_lease_deadline(const struct weft_swim *s);
/* sender_view: the view id in the ACK's header (the lease's check). */
void swim_on_ack(struct weft_swim *s, uint32_t seq,
		 const struct weft_swim_id *subject, uint64_t subject_nonce,
		 const struct weft_swim_view_id *sender_view);
void swim_on_ping_req(struct weft_swim *s, uint64_t now,
		      const struct weft_swim_addr *from, uint32_t seq,
		      const struct weft_swim_id *target, uint64_t target_nonce,
		      const struct weft_swim_addr *target_addr);
void swim_on_nack(struct weft_swim *s, uint32_t seq);
uint64_t swim_probe_deadline(const struct weft_swim *s);
void swim_awareness(struct weft_swim *s, int delta);

/* ---- swim_view.c ---- */
void swim_view_tick(struct weft_swim *s, uint64_t now);
void swim_view_bootstrap(struct weft_swim *s, uint64_t now);
void swim_view_seen(struct weft_swim *s, uint64_t now,
		    const struct weft_swim_addr *from,
		    const struct weft_swim_view_id *vid);
void swim_view_request(struct weft_swim *s, const struct weft_swim_addr *to,
		       uint64_t cookie);
void swim_view_on_msg(struct weft_swim *s, uint64_t now,
		      const struct weft_swim_view_id *vid,
		      const struct weft_swim_view_member *mem, uint32_t n);
void swim_view_send(struct weft_swim *s, const struct weft_swim_addr *to);
bool swim_view_is_coord(const struct weft_swim *s);
/* True when the current view lists this very life (id and nonce). */
bool swim_view_lists_self(const struct weft_swim *s);

/* ---- swim_wire.c ---- see the format in swim_wire.h */

#endif
