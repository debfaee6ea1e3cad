/*
 * sim_sgl.h — the simulator's singleton layer (--sgl), private to
 * sim_sgl*.c. It drives the REAL control/ctl_singleton.c machine, one per
 * virtual node life (lost on a crash), each hosting a fixed (per seed)
 * subset of SIM_SNAMES singletons, fed with the node's actual membership
 * views (members with ids and states, view id, no_quorum false) the way
 * control/ctl_services_claims.c feeds it in weftd (join grace included).
 *
 * The claim store models the replicated cache with CAS as ONE linearizable
 * store reachable through the simulated network: it sits in partition
 * group 0; every READ / CAS / RELEASE is a request and a response, each
 * lost, duplicated, delayed or cut by partitions like any datagram; a
 * request unanswered after SIM_SREQ_TIMEOUT_MS is reported to the machine
 * as failed (cas_done ok=false; it re-reads). START / STOP mark runs; the
 * daemon's `stopped` comes back SIM_SSTOP_MS later. A crash ends the
 * life's runs (the daemons die with weftd).
 *
 *   sim_sgl.c        lives, views, store, requests, driver, event queue
 *   sim_sgl_check.c  runs and the invariants, trace, summary
 *
 * Invariants (sim_sgl_check.c, after every event):
 *  (1) at most one run per (name, epoch) ever, and the epochs of the
 *      successive runs of a name strictly increase: every HELD claim the
 *      store accepts has a higher epoch than the one it replaces, and each
 *      START matches one such write, by that node, started once (the
 *      order of claims is the store's; a START may reach its node after a
 *      newer claim was made elsewhere — an overlap, fenced by the epoch);
 *  (2) in a healthy period — the cluster converged after the faults, and
 *      every live node's member list (its views and member events, as
 *      weftd would feed them) holds every live node live (ALIVE or
 *      SUSPECT), continuously for SIM_SBOUND_US
 *      (checked every tick and at every view or member change fed to a
 *      machine; one node's false DOWN under loss ends it) —
 *      exactly one hosting live node runs each name some live node hosts,
 *      and never two at once;
 *  (3) only a node hosting a name runs it;
 *  (4) bounded state: the event queue, the active runs (at most one per
 *      hosting life and name) and each machine's table.
 * Two runs at once (different epochs) before that are counted as overlaps
 * (fencing handles them), not failures.
 */
#ifndef WEFT_TESTS_SIM_SGL_H
#define WEFT_TESTS_SIM_SGL_H

#include "ctl_singleton.h"
#include "sim.h"

#define SIM_SNAMES 3u
#define SIM_SMAX_NODES 64u
#define SIM_SREQ_TIMEOUT_MS 500u
#define SIM_SSTOP_MS 100u          /* STOP -> stopped */
#define SIM_STICK_US 10000u
#define SIM_SBOUND_US 10000000u    /* invariant (2)'s bound */
#define SIM_SGRACE_MS 3000u        /* weftd's join grace */
#define SIM_SMAX_ACTIVE (SIM_SMAX_NODES * SIM_SNAMES)
#define SIM_SLOG 4096u             /* HELD claims per name per run */

enum { SIM_SE_REQ, SIM_SE_RESP, SIM_SE_TIMEOUT, SIM_SE_STOPPED, SIM_SE_TICK };

struct sim_sev {
	uint64_t t, seq;
	uint32_t kind, node, name;
	uint64_t nonce;            /* the life it belongs to */
	uint64_t rid;              /* request id */
	uint32_t op;               /* WEFT_CTL_SGL_READ / CAS / RELEASE */
	bool ok;
	uint64_t expected;
	struct weft_ctl_sgl_claim c;  /* CAS/RELEASE: value; RESP: read */
};

struct sim_snode {
	struct weft_ctl_sgl *m;    /* NULL: down */
	uint64_t nonce;
	uint64_t born_ms;          /* local ms the life started */
	uint32_t hosts;            /* bit k: hosts name k (fixed per seed) */
	bool fed;                  /* a view was given to the machine */
	uint64_t view_id;
	uint32_t n_mem;
	struct weft_ctl_sgl_member mem[SIM_SMAX_NODES * 2];
	uint64_t rid[SIM_SNAMES];  /* request in flight (0: none) */
	uint64_t deadline[SIM_SNAMES];  /* its timeout (virtual us) */
	uint64_t next_ms;          /* machine's wake-up (local ms) */
};

struct sim_srun {
	uint32_t node, name;
	uint64_t nonce, epoch, start_us;
};

/* A HELD claim the store accepted (its history, in store order). */
struct sim_sclaim {
	uint64_t epoch;
	struct weft_swim_id owner;
	bool started;
};

struct sim_strace {
	uint64_t t;
	uint32_t node, what, name;
	uint64_t a, b;
};
enum { SIM_ST_READ, SIM_ST_CAS, SIM_ST_RELEASE, SIM_ST_ANSWER, SIM_ST_TIMEOUT,
       SIM_ST_START, SIM_ST_STOP, SIM_ST_STOPPED, SIM_ST_VIEW, SIM_ST_LIFE,
       SIM_ST_END, SIM_ST_MEMBER };

struct sim_sgl_layer {
	struct sim_snode *n;       /* [o.nodes] */
	struct sim_sev *heap;
	uint32_t n_heap, cap_heap;
	uint64_t seq, next_rid;
	struct weft_ctl_sgl_claim store[SIM_SNAMES];  /* version 0: absent */
	struct sim_srun active[SIM_SMAX_ACTIVE];
	uint32_t n_active;
	struct sim_sclaim *log[SIM_SNAMES];  /* [SIM_SLOG] HELD claims written */
	uint32_t n_log[SIM_SNAMES];
	struct sim_strace trace[SIM_TRACE];
	uint32_t n_trace;
	struct weft_ctl_sgl_action *act;
	uint32_t cap_act;
	uint64_t healthy_since;    /* virtual us; 0: not healthy */
	uint64_t runs, overlaps, reqs, timeouts;
};

/* sim_sgl.c */
void sim_strace(struct sim *s, uint32_t node, uint32_t what, uint32_t name,
		uint64_t a, uint64_t b);
const char *sim_sname(uint32_t k);
bool sim_slive(const struct sim *s, uint32_t node);

/* sim_sgl_check.c */
/* The store accepted claim c for name (invariant (1)'s history). */
void sim_scheck_write(struct sim *s, uint32_t name, const struct weft_ctl_sgl_claim *prev,
		      const struct weft_ctl_sgl_claim *c);
void sim_scheck_start(struct sim *s, uint32_t node, uint32_t name, uint64_t epoch);
void sim_scheck_end(struct sim *s, uint32_t node, uint32_t name);   /* name SIM_SNAMES: all */
void sim_scheck(struct sim *s);
void sim_scheck_health(struct sim *s);     /* every tick, every feed */

#endif
