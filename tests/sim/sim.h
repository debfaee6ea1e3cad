/*
 * sim.h — the deterministic cluster simulator (private to tests/sim/).
 *
 * One process runs N virtual nodes, each a real weft_swim state machine, over
 * a virtual clock (microseconds) and an event queue (min-heap ordered by
 * (time, insertion seq), so equal times run in a fixed order). Every random
 * choice — latency, loss, duplication, reordering, faults, node seeds —
 * comes from one xoshiro256** generator seeded by --seed: a run is a pure
 * function of its command line.
 *
 * Files: sim_core.c (rng, heap, network, driving nodes), sim_check.c
 * (invariants, view registry, trace ring), sim_faults.c (fault schedule),
 * sim_detect.c (failure-detection measurements), sim_scale.c (--scale
 * figures), sim_main.c (CLI); with --data the data layer: sim_data.c
 * (workload, replication, quorum, the acknowledged-write model),
 * sim_dcheck.c (its invariants), sim_xfer.c (state transfer driven by the
 * real planner),
 * sim_data_scale.c (--data-scale: rebalancing traffic per node); with
 * --msg the messaging layer over the real msg/ state machines: sim_msg.c,
 * sim_msg_node.c, sim_msg_xfer.c, sim_msg_client.c, sim_msg_check.c
 * (sim_msg.h); with --sgl the singleton layer over the real
 * control/ctl_singleton.c machines: sim_sgl.c, sim_sgl_check.c (sim_sgl.h);
 * with --sess the sessions layer over the real sess/ module: sim_sess.c,
 * sim_sess_node.c, sim_sess_client.c (sim_sess.h).
 */
#ifndef WEFT_TESTS_SIM_H
#define WEFT_TESTS_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "membership.h"

#define SIM_GROUPS 4u          /* partition groups */
#define SIM_TRACE 200u         /* events kept for the failure dump */
#define SIM_MAX_NODES 1600u
#define SIM_GROUP_IP 0xef010203u   /* 239.1.2.3: discovery group */
#define SIM_PORT 7800u
#define SIM_CALM_US 10000000u      /* disturbance excuses a DOWN this long */

struct sim_rng {
	uint64_t s[4];
};

void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rand(struct sim_rng *r);
uint32_t sim_below(struct sim_rng *r, uint32_t n);
double sim_unit(struct sim_rng *r);            /* [0, 1) */

enum sim_ev_kind {
	SIM_EV_DELIVER,
	SIM_EV_TIMER,
	SIM_EV_FAULT,
	SIM_EV_CHECK,
	SIM_EV_DDELIVER,           /* a data-layer datagram (sim_data.c) */
	SIM_EV_DTICK,              /* the data layer's 10 ms tick */
};

struct sim_msg {
	uint32_t src;
	uint32_t dst;
	struct weft_swim_addr from;
	uint32_t len;
	uint8_t data[];
};

struct sim_event {
	uint64_t t;
	uint64_t seq;
	uint32_t kind;
	uint32_t node;
	uint32_t gen;
	uint32_t arg;
	struct sim_msg *msg;
};

struct sim_node {
	struct weft_swim *sm;
	bool up;
	bool paused;
	bool refused;
	bool is_dup;              /* a copied-home node (duplicate id test) */
	uint64_t pause_until;     /* virtual us */
	struct weft_swim_id id;
	uint64_t nonce;
	struct weft_swim_addr addr;
	double drift;             /* local clock rate - 1 */
	uint64_t offset_us;       /* local clock at virtual 0 */
	uint64_t timer_at;
	uint32_t timer_gen;
	uint32_t group;
	bool has_view;
	struct weft_swim_view_id last_view;
	uint64_t tx_msgs;         /* sent by this node (all lives) */
	uint64_t down_at;         /* virtual us of the last crash */
	uint64_t started_at;      /* virtual us the current life started */
	uint64_t calm_after;      /* paused until SIM_CALM_US before this */
	bool exit_pending;        /* LEAVE_DONE seen: stop after this call */
	uint32_t lives;
};

struct sim_opts {
	uint32_t nodes;
	uint64_t seed;
	uint64_t duration_ms;
	uint64_t quiet_ms;        /* fault-free tail for convergence */
	double loss, dup, reorder;
	uint32_t lat_us;          /* base one-way latency */
	uint32_t jitter_us;       /* mean of the exponential jitter */
	unsigned faults;          /* SIM_F_* */
	bool trace;
	bool discovery;           /* join by multicast instead of seeds */
	bool data;                /* --data: the data layer (sim_data.c) */
	bool quorum;              /* --quorum: partition handling quorum */
	bool strict_copies;       /* --strict-copies: see sim_data.c (a) */
	uint32_t write_ms;        /* --write-ms: one client write per W ms */
	uint32_t write_start_ms;  /* --write-start-ms: first write (1000) */
	uint32_t write_end_ms;    /* --write-end-ms: none after (0: T - 15 s) */
	bool write_converged;     /* --write-converged: and not before every
	                             live node holds every other ALIVE */
	uint32_t partition_max_ms; /* --partition-max-ms (default 8000) */
	bool msg;                 /* --msg: the messaging layer (sim_msg.c) */
	uint32_t msg_ms;          /* --msg-ms: one publish per M ms (10) */
	bool msg_converged;       /* --msg-converged: clients start once the
	                             whole cluster has formed one view */
	bool sgl;                 /* --sgl: the singleton layer (sim_sgl.c) */
	bool sess;                /* --sess: the sessions layer (sim_sess.c) */
};

enum {
	SIM_F_CRASH = 1u << 0,
	SIM_F_PAUSE = 1u << 1,
	SIM_F_PARTITION = 1u << 2,
	SIM_F_ONEWAY = 1u << 3,
	SIM_F_DRIFT = 1u << 4,
	SIM_F_LEAVE = 1u << 5,
	SIM_F_DUPID = 1u << 6,
	SIM_F_ALL = (1u << 7) - 1,
};

struct sim_trace_rec {
	uint64_t t;
	uint16_t what;
	uint16_t type;
	uint32_t node, peer, len;
	uint64_t arg;
};

enum sim_trace_what {
	SIM_T_SEND, SIM_T_DELIVER, SIM_T_DROP, SIM_T_TIMER, SIM_T_CRASH,
	SIM_T_RESTART, SIM_T_PAUSE, SIM_T_RESUME, SIM_T_PARTITION, SIM_T_HEAL,
	SIM_T_EVENT, SIM_T_LEAVE, SIM_T_DATA,
};

struct sim_view_reg;
struct sim;
struct sim_data;
struct sim_msg_layer;
struct sim_sgl_layer;
struct sim_sess_layer;

/* One crash of a node life, and which observers have declared it DOWN. */
struct sim_crash {
	uint32_t node;
	uint64_t nonce;
	uint64_t t;
	uint8_t *seen;            /* [n_nodes capacity]: observer counted */
};

/* A run's failure-detection measurements (sim_detect.c). */
struct sim_detect {
	struct sim_crash *crash;
	uint32_t n_crash, cap_crash;
	uint32_t *sample_ms;      /* crash -> DOWN at one observer, in ms */
	uint32_t n_sample, cap_sample;
	uint64_t false_downs;     /* DOWN of an undisturbed live life */
	uint64_t excused_downs;   /* DOWN of a live life that was unreachable */
	uint64_t calm_after;      /* partitioned until SIM_CALM_US before this */
};

struct sim_sink_ctx {
	struct sim *s;
	uint32_t node;
};

/* Hooks the scale mode uses to observe events (may be NULL). */
struct sim_hooks {
	void *ctx;
	void (*event)(void *ctx, uint32_t node, const struct weft_swim_event *ev);
};

struct sim {
	struct sim_opts o;
	struct sim_rng rng;
	uint64_t now;                      /* virtual us */
	uint64_t seq;
	struct sim_event *heap;
	uint32_t n_heap, cap_heap;
	struct sim_node *node;
	uint32_t n_nodes;                  /* includes the duplicate, if any */
	uint8_t cut[SIM_GROUPS][SIM_GROUPS];   /* cut[a][b]: a -> b dropped */
	uint64_t faults_end_us;
	uint64_t converged_at;             /* 0: not yet (after faults end) */
	struct sim_trace_rec trace[SIM_TRACE];
	uint32_t n_trace;
	struct sim_view_reg *reg;
	struct sim_hooks hooks;
	char failure[512];
	bool failed;
	uint64_t failed_at;
	uint64_t msgs_sent, msgs_dropped, events_run;
	struct weft_swim_config base;      /* template config for nodes */
	struct weft_swim_sink *sinks;      /* one per node, ctx = sink_ctx[i] */
	struct sim_sink_ctx *sink_ctx;
	uint32_t n_seeds;
	struct sim_detect det;
	struct sim_data *data;             /* NULL unless --data */
	uint64_t part_since;               /* partition in force since (0: none) */
	uint64_t life_epoch;               /* +1 at every crash, start, exit */
	struct sim_msg_layer *msgl;        /* NULL unless --msg */
	struct sim_sgl_layer *sgl;         /* NULL unless --sgl */
	struct sim_sess_layer *sess;       /* NULL unless --sess */
};

/* sim_core.c */
struct sim *sim_create(const struct sim_opts *o);
void sim_destroy(struct sim *s);
void sim_push(struct sim *s, uint64_t t, uint32_t kind, uint32_t node,
	      uint32_t gen, uint32_t arg, struct sim_msg *m);
bool sim_step(struct sim *s);                 /* false: queue empty */
void sim_run_until(struct sim *s, uint64_t t_us);
void sim_node_start(struct sim *s, uint32_t i, bool first);
void sim_node_crash(struct sim *s, uint32_t i);
void sim_node_pause(struct sim *s, uint32_t i, uint64_t until_us);
void sim_node_leave(struct sim *s, uint32_t i);
uint64_t sim_local_ms(const struct sim_node *n, uint64_t t_us);
uint32_t sim_add_dup_node(struct sim *s, uint32_t of);
void sim_heal(struct sim *s);

/* sim_check.c */
void sim_trace(struct sim *s, uint16_t what, uint32_t node, uint32_t peer,
	       uint16_t type, uint32_t len, uint64_t arg);
void sim_fail(struct sim *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void sim_check_view_event(struct sim *s, uint32_t node,
			  const struct weft_swim_event *ev);
void sim_check_bounds(struct sim *s);
bool sim_converged(const struct sim *s);
/* Every live node holds node i's current life ALIVE. */
bool sim_known_alive(const struct sim *s, uint32_t i);
void sim_print_rec(FILE *f, const struct sim_trace_rec *t);
void sim_dump(const struct sim *s, FILE *f, const char *replay);
struct sim_view_reg *sim_reg_create(void);
void sim_reg_destroy(struct sim_view_reg *r);

/* sim_detect.c: called by sim_core.c at a crash, at a DOWN event, and when a
 * partition is cut or healed; sim_detect_free() by sim_destroy(). */
void sim_detect_crash(struct sim *s, uint32_t node);
void sim_detect_down(struct sim *s, uint32_t observer,
		     const struct weft_swim_event *ev);
void sim_detect_partition(struct sim *s, bool cut);
void sim_detect_free(struct sim *s);

/* sim_faults.c; FK_RESTART also starts a node the first time. */
enum sim_fault_kind {
	FK_CRASH, FK_RESTART, FK_PAUSE, FK_RESUME, FK_PARTITION, FK_ONEWAY,
	FK_HEAL, FK_LEAVE, FK_DUPID, FK_END,
};
void sim_schedule_faults(struct sim *s);
void sim_apply_fault(struct sim *s, uint32_t kind, uint32_t arg);

/* sim_data.c: the data layer (--data). sim_core.c calls these; all are
 * no-ops when s->data is NULL. */
int sim_data_create(struct sim *s);
void sim_data_destroy(struct sim *s);
void sim_data_start(struct sim *s, uint32_t node);
void sim_data_crash(struct sim *s, uint32_t node);   /* memory lost */
void sim_data_event(struct sim *s, uint32_t node,
		    const struct weft_swim_event *ev);
void sim_data_deliver(struct sim *s, struct sim_msg *m);
void sim_data_tick(struct sim *s);
void sim_data_check(struct sim *s);                  /* every check event */
void sim_data_end(struct sim *s);                    /* at the end of a run */
void sim_data_summary(const struct sim *s, char *buf, size_t n);
uint64_t sim_data_acked(const struct sim *s);        /* 0 without --data */
void sim_data_print(FILE *f, const struct sim_trace_rec *t);  /* SIM_T_DATA */
/* sim_core.c: sends a data datagram (network model applied). */
void sim_net_data(struct sim *s, uint32_t src, uint32_t dst,
		  const void *buf, size_t len);

/* sim_msg*.c: the messaging layer (--msg). sim_msg_create hooks the core's
 * events (s->hooks) and must run before the first node starts; the run is
 * then driven by sim_msg_run_until (it steps the core and this layer's own
 * event queue in time order); sim_msg_destroy before sim_destroy. */
int sim_msg_create(struct sim *s);
void sim_msg_destroy(struct sim *s);
void sim_msg_run_until(struct sim *s, uint64_t t_us);
void sim_mcheck_end(struct sim *s);                  /* at the end of a run */
void sim_msg_summary(const struct sim *s, char *buf, size_t n);
void sim_msg_totals(const struct sim *s, uint64_t *acked, uint64_t *delivered,
		    uint64_t *dups);
void sim_msg_dump(const struct sim *s, FILE *f, const char *replay);

/* sim_sgl*.c: the singleton layer (--sgl), used like the messaging layer
 * (sim_sgl_create hooks the core's events; sim_sgl_run_until drives). */
int sim_sgl_create(struct sim *s);
void sim_sgl_destroy(struct sim *s);
void sim_sgl_run_until(struct sim *s, uint64_t t_us);
void sim_sgl_summary(const struct sim *s, char *buf, size_t n);
void sim_sgl_totals(const struct sim *s, uint64_t *runs, uint64_t *overlaps);
void sim_sgl_dump(const struct sim *s, FILE *f, const char *replay);

/* sim_sess*.c: the sessions layer (--sess), used like the singleton layer
 * (sim_sess_create hooks the core's events; sim_sess_run_until drives and
 * runs the end checks). sim_sess_totals adds 1 run (0 without --sess) and
 * the acknowledged session ops. */
int sim_sess_create(struct sim *s);
void sim_sess_destroy(struct sim *s);
void sim_sess_run_until(struct sim *s, uint64_t t_us);
void sim_sess_summary(const struct sim *s, char *buf, size_t n);
void sim_sess_totals(const struct sim *s, uint64_t *runs, uint64_t *acked);
void sim_sess_dump(const struct sim *s, FILE *f, const char *replay);

/* sim_data_scale.c */
int sim_data_scale(uint64_t seed, const uint32_t *sizes, unsigned n_sizes);

/* sim_scale.c */
int sim_scale(uint64_t seed, const uint32_t *sizes, unsigned n_sizes);

#endif
