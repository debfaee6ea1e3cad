/*
 * dp_stats.c — the STATS text: "name value\n" lines.
 *
 *   lcore.<i>.<counter>        per worker lcore (rx_packets, tx_packets,
 *                              req.<op>, drop.<reason>, ...)
 *   lcore.<i>.latency_us.<kind>.le_<2^k> | .le_inf | .count | .sum
 *                              request latency, kind read or write:
 *                              cumulative bucket counts (answers of at most
 *                              2^k us, k = 0..24; le_inf = count), the sum
 *                              in us (may lag the count by an answer)
 *   total.<counter>            the same summed over lcores
 *   reasm.* resp.* dedup.*     the node-wide slow-path tables
 *   auth.*                     keys in use, refusals per reason (node-wide:
 *                              data port + cluster port), UNAUTHORIZED answers
 *   ctl.* arp.entries          the cluster channel's control side (when on)
 *   cache.<name>.<counter>     weft_cache_get_stats of every cache
 * and the APPS text the app runtime publishes (weft_dp_apps_publish).
 *
 * Readers sum other lcores' counters without synchronisation (each counter
 * is a naturally aligned u64 written by one lcore): a value can be a few
 * packets behind, never torn.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dp_internal.h"

static const char *const op_names[WEFT_OP__COUNT] = {
	[WEFT_OP_PING] = "ping",
	[WEFT_OP_GET] = "get",
	[WEFT_OP_MULTI_GET] = "multi_get",
	[WEFT_OP_PUT] = "put",
	[WEFT_OP_PUT_IF_ABSENT] = "put_if_absent",
	[WEFT_OP_REPLACE] = "replace",
	[WEFT_OP_CAS] = "cas",
	[WEFT_OP_DELETE] = "delete",
	[WEFT_OP_INCR] = "incr",
	[WEFT_OP_TOUCH] = "touch",
	[WEFT_OP_CACHE_OPEN] = "cache_open",
	[WEFT_OP_STATS] = "stats",
	[WEFT_OP_FETCH] = "fetch",
	[WEFT_OP_MEMBERS] = "members",
	[WEFT_OP_TOPOLOGY] = "topology",
	[WEFT_OP_REPLICATE] = "replicate",
	[WEFT_OP_DEST_OPEN] = "dest_open",
	[WEFT_OP_DEST_STOP] = "dest_stop",
	[WEFT_OP_PUBLISH] = "publish",
	[WEFT_OP_RECEIVE] = "receive",
	[WEFT_OP_ACK] = "ack",
	[WEFT_OP_UNSUBSCRIBE] = "unsubscribe",
	[WEFT_OP_DESTINATIONS] = "destinations",
	[WEFT_OP_MSG_REPL] = "msg_repl",
	[WEFT_OP_TOPIC_JOIN] = "topic_join",
	[WEFT_OP_TOPIC_DELIVER] = "topic_deliver",
	[WEFT_OP_APPS] = "apps",
	[WEFT_OP_PUT_FENCED] = "put_fenced",
	[WEFT_OP_SESSION] = "session",
};

static const char *const mode_names[WEFT_MODE__COUNT] = {
	"default", "local", "distributed", "replicated", "invalidated",
};

/* What threads outside the dataplane publish for STATS and APPS: the
 * control thread's rebalancing progress, the app runtime's APPS text and
 * the sessions service's counters. */
struct dp_rebalance_box {
	pthread_mutex_t lock;
	struct weft_dp_rebalance r;
	char *apps;       /* malloc'd, apps_len bytes; NULL: none */
	size_t apps_len;
	struct weft_dp_sess_service sess;
};

void weft_dp_sess_service_publish(struct weft_dp *dp, const struct weft_dp_sess_service *s)
{
	pthread_mutex_lock(&dp->rebalance->lock);
	dp->rebalance->sess = *s;
	pthread_mutex_unlock(&dp->rebalance->lock);
}

static void put_sess_service(struct dp_text *o, struct dp_rebalance_box *b)
{
	pthread_mutex_lock(&b->lock);
	struct weft_dp_sess_service s = b->sess;
	pthread_mutex_unlock(&b->lock);
	dp_text_put(o, "sessions_service.published %" PRIu64
		    "\nsessions_service.publish_failed %" PRIu64
		    "\nsessions_service.bad_events %" PRIu64 "\nsessions_service.expired %" PRIu64
		    "\nsessions_service.not_due %" PRIu64 "\nsessions_service.gone %" PRIu64
		    "\nsessions_service.expire_failed %" PRIu64
		    "\nsessions_service.discarded %" PRIu64 "\n",
		    s.published, s.publish_failed, s.bad_events, s.expired, s.not_due, s.gone,
		    s.expire_failed, s.discarded);
}

int weft_dp_apps_publish(struct weft_dp *dp, const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	if (copy == NULL)
		return -ENOMEM;
	memcpy(copy, text, len);
	struct dp_rebalance_box *b = dp->rebalance;
	pthread_mutex_lock(&b->lock);
	char *old = b->apps;
	b->apps = copy;
	b->apps_len = len;
	pthread_mutex_unlock(&b->lock);
	free(old);
	return 0;
}

uint8_t *dp_apps_text(struct weft_dp *dp, size_t *len)
{
	struct dp_rebalance_box *b = dp->rebalance;
	pthread_mutex_lock(&b->lock);
	uint8_t *copy = malloc(b->apps_len + 1);
	if (copy != NULL) {
		if (b->apps_len)
			memcpy(copy, b->apps, b->apps_len);
		*len = b->apps_len;
	}
	pthread_mutex_unlock(&b->lock);
	return copy;
}

struct dp_rebalance_box *dp_rebalance_box_create(void)
{
	struct dp_rebalance_box *b = calloc(1, sizeof(*b));
	if (b != NULL)
		pthread_mutex_init(&b->lock, NULL);
	return b;
}

void dp_rebalance_box_destroy(struct dp_rebalance_box *b)
{
	if (b == NULL)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b->apps);
	free(b);
}

void weft_dp_rebalance_publish(struct weft_dp *dp, const struct weft_dp_rebalance *r)
{
	pthread_mutex_lock(&dp->rebalance->lock);
	dp->rebalance->r = *r;
	pthread_mutex_unlock(&dp->rebalance->lock);
}

static void put_rebalance(struct dp_text *o, struct dp_rebalance_box *b)
{
	pthread_mutex_lock(&b->lock);
	struct weft_dp_rebalance r = b->r;
	pthread_mutex_unlock(&b->lock);
	dp_text_put(o, "rebalance.view %" PRIu64 "\nrebalance.moves_pending %u\n"
		    "rebalance.moves_done %u\nrebalance.entries_sent %" PRIu64
		    "\nrebalance.bytes_sent %" PRIu64 "\nrebalance.retransmits %" PRIu64
		    "\nrebalance.last_duration_ms %" PRIu64 "\nrebalance.handoff %u\n",
		    r.view, r.moves_pending, r.moves_done, r.entries_sent, r.bytes_sent,
		    r.retransmits, r.last_duration_ms, r.handoff ? 1u : 0u);
}

void dp_counters_add(struct dp_counters *sum, const struct dp_counters *c)
{
	const uint64_t *s = (const uint64_t *)c;
	uint64_t *d = (uint64_t *)sum;
	for (size_t i = 0; i < sizeof(*c) / sizeof(uint64_t); i++)
		d[i] += s[i];
}

/* The latency histograms, cumulative (the per-bucket counts summed), count
 * = le_inf: consistent within one line set even while the lcore counts. */
static void put_latency(struct dp_text *o, const char *prefix, const struct dp_counters *c)
{
	static const char *const kinds[DP_LAT__COUNT] = {"read", "write"};
	for (unsigned k = 0; k < DP_LAT__COUNT; k++) {
		uint64_t cum = 0;
		for (unsigned i = 0; i < DP_LAT_INF; i++) {
			cum += c->lat_bucket[k][i];
			dp_text_put(o, "%s.latency_us.%s.le_%" PRIu64 " %" PRIu64 "\n", prefix,
				    kinds[k], (uint64_t)1 << i, cum);
		}
		cum += c->lat_bucket[k][DP_LAT_INF];
		dp_text_put(o, "%s.latency_us.%s.le_inf %" PRIu64 "\n", prefix, kinds[k], cum);
		dp_text_put(o, "%s.latency_us.%s.count %" PRIu64 "\n", prefix, kinds[k], cum);
		dp_text_put(o, "%s.latency_us.%s.sum %" PRIu64 "\n", prefix, kinds[k],
			    c->lat_sum_us[k]);
	}
}

static void put_counters(struct dp_text *o, const char *prefix, const struct dp_counters *c)
{
	dp_text_put(o, "%s.rx_packets %" PRIu64 "\n", prefix, c->rx_packets);
	dp_text_put(o, "%s.tx_packets %" PRIu64 "\n", prefix, c->tx_packets);
	dp_text_put(o, "%s.arp_replies %" PRIu64 "\n", prefix, c->arp_replies);
	dp_text_put(o, "%s.icmp_replies %" PRIu64 "\n", prefix, c->icmp_replies);
	for (unsigned i = 0; i < WEFT_OP__COUNT; i++)
		dp_text_put(o, "%s.req.%s %" PRIu64 "\n", prefix, op_names[i], c->requests[i]);
	dp_text_put(o, "%s.errors %" PRIu64 "\n", prefix, c->errors);
	for (unsigned i = 0; i < DP_DROP__COUNT; i++)
		dp_text_put(o, "%s.drop.%s %" PRIu64 "\n", prefix, dp_drop_name(i), c->drops[i]);
	dp_text_put(o, "%s.reasm_pieces %" PRIu64 "\n", prefix, c->reasm_pieces);
	dp_text_put(o, "%s.long_responses %" PRIu64 "\n", prefix, c->long_responses);
	dp_text_put(o, "%s.dedup_replays %" PRIu64 "\n", prefix, c->dedup_replays);
	dp_text_put(o, "%s.get_bursts %" PRIu64 "\n", prefix, c->get_bursts);
	dp_text_put(o, "%s.not_owner %" PRIu64 "\n", prefix, c->not_owner);
	dp_text_put(o, "%s.idle_sleeps %" PRIu64 "\n", prefix, c->idle_sleeps);
	dp_text_put(o, "%s.ctl_rx %" PRIu64 "\n", prefix, c->ctl_rx);
	dp_text_put(o, "%s.frag_to_ctl %" PRIu64 "\n", prefix, c->frag_to_ctl);
	dp_text_put(o, "%s.ctl_drop_full %" PRIu64 "\n", prefix, c->ctl_drop_full);
	dp_text_put(o, "%s.ctl_drop_self %" PRIu64 "\n", prefix, c->ctl_drop_self);
	dp_text_put(o, "%s.arp_learned %" PRIu64 "\n", prefix, c->arp_learned);
	dp_text_put(o, "%s.ctl_tx %" PRIu64 "\n", prefix, c->ctl_tx);
	dp_text_put(o, "%s.forwarded %" PRIu64 "\n", prefix, c->forwarded);
	dp_text_put(o, "%s.replicated %" PRIu64 "\n", prefix, c->replicated);
	dp_text_put(o, "%s.rpc_sent %" PRIu64 "\n", prefix, c->rpc_sent);
	dp_text_put(o, "%s.rpc_retransmits %" PRIu64 "\n", prefix, c->rpc_retransmits);
	dp_text_put(o, "%s.rpc_acks %" PRIu64 "\n", prefix, c->rpc_acks);
	dp_text_put(o, "%s.rpc_stray %" PRIu64 "\n", prefix, c->rpc_stray);
	dp_text_put(o, "%s.rpc_steered %" PRIu64 "\n", prefix, c->rpc_steered);
	dp_text_put(o, "%s.rpc_gave_up %" PRIu64 "\n", prefix, c->rpc_gave_up);
	dp_text_put(o, "%s.rpc_retargeted %" PRIu64 "\n", prefix, c->rpc_retargeted);
	dp_text_put(o, "%s.rpc_no_slot %" PRIu64 "\n", prefix, c->rpc_no_slot);
	dp_text_put(o, "%s.no_quorum %" PRIu64 "\n", prefix, c->no_quorum);
	dp_text_put(o, "%s.lease_busy %" PRIu64 "\n", prefix, c->lease_busy);
	dp_text_put(o, "%s.repl_applied %" PRIu64 "\n", prefix, c->repl_applied);
	dp_text_put(o, "%s.repl_stale %" PRIu64 "\n", prefix, c->repl_stale);
	dp_text_put(o, "%s.read_through %" PRIu64 "\n", prefix, c->read_through);
	dp_text_put(o, "%s.msg_parked %" PRIu64 "\n", prefix, c->msg_parked);
	dp_text_put(o, "%s.msg_repl_sent %" PRIu64 "\n", prefix, c->msg_repl_sent);
	dp_text_put(o, "%s.msg_repl_lost %" PRIu64 "\n", prefix, c->msg_repl_lost);
	dp_text_put(o, "%s.msg_repl_applied %" PRIu64 "\n", prefix, c->msg_repl_applied);
	dp_text_put(o, "%s.topic_batches %" PRIu64 "\n", prefix, c->topic_batches);
	dp_text_put(o, "%s.topic_joins %" PRIu64 "\n", prefix, c->topic_joins);
	dp_text_put(o, "%s.msg_transfer %" PRIu64 "\n", prefix, c->msg_transfer);
	dp_text_put(o, "%s.sessions_created %" PRIu64 "\n", prefix, c->sessions_created);
	dp_text_put(o, "%s.sessions_invalidated %" PRIu64 "\n", prefix, c->sessions_invalidated);
	dp_text_put(o, "%s.sessions_expired %" PRIu64 "\n", prefix, c->sessions_expired);
	dp_text_put(o, "%s.session_slack_writes %" PRIu64 "\n", prefix, c->session_slack_writes);
	dp_text_put(o, "%s.session_cas_retries %" PRIu64 "\n", prefix, c->session_cas_retries);
	dp_text_put(o, "%s.session_events_dropped %" PRIu64 "\n", prefix,
		    c->session_events_dropped);
	dp_text_put(o, "%s.session_read_through %" PRIu64 "\n", prefix,
		    c->session_read_through);
	dp_text_put(o, "%s.session_read_through_busy %" PRIu64 "\n", prefix,
		    c->session_read_through_busy);
	dp_text_put(o, "%s.session_retry_writes %" PRIu64 "\n", prefix,
		    c->session_retry_writes);
	dp_text_put(o, "%s.amp_unverified %" PRIu64 "\n", prefix, c->amp_unverified);
	dp_text_put(o, "%s.cookies_sent %" PRIu64 "\n", prefix, c->cookies_sent);
	dp_text_put(o, "%s.cookies_valid %" PRIu64 "\n", prefix, c->cookies_valid);
	dp_text_put(o, "%s.cookies_invalid %" PRIu64 "\n", prefix, c->cookies_invalid);
	dp_text_put(o, "%s.amp_rate_drops %" PRIu64 "\n", prefix, c->amp_rate_drops);
	dp_text_put(o, "%s.amp_budget_drops %" PRIu64 "\n", prefix, c->amp_budget_drops);
	for (unsigned r = 1; r < WEFT_SEC__COUNT; r++)
		dp_text_put(o, "%s.auth_refused_%s %" PRIu64 "\n", prefix,
			    weft_sec_refusal_name((enum weft_sec_refusal)r), c->auth_refused[r]);
	dp_text_put(o, "%s.auth_unauthorized %" PRIu64 "\n", prefix, c->auth_unauthorized);
	put_latency(o, prefix, c);
}

static void put_named(void *arg, const char *name, uint64_t v)
{
	dp_text_put(arg, "%s %" PRIu64 "\n", name, v);
}

static void put_cache(struct weft_cache *c, void *arg)
{
	struct dp_text *o = arg;
	struct weft_cache_stats s;
	weft_cache_get_stats(c, &s);
	const char *n = weft_cache_name(c);
	struct weft_cache_opts opts;
	weft_cache_get_opts(c, &opts);
	dp_text_put(o, "cache.%s.mode %s\n", n,
		    opts.mode < WEFT_MODE__COUNT ? mode_names[opts.mode] : "unknown");
	dp_text_put(o, "cache.%s.entries %" PRIu64 "\n", n, s.entries);
	dp_text_put(o, "cache.%s.tombstones %" PRIu64 "\n", n, s.tombstones);
	dp_text_put(o, "cache.%s.bytes %" PRIu64 "\n", n, s.bytes);
	dp_text_put(o, "cache.%s.max_bytes %" PRIu64 "\n", n, s.max_bytes);
	dp_text_put(o, "cache.%s.hits %" PRIu64 "\n", n, s.hits);
	dp_text_put(o, "cache.%s.misses %" PRIu64 "\n", n, s.misses);
	dp_text_put(o, "cache.%s.puts %" PRIu64 "\n", n, s.puts);
	dp_text_put(o, "cache.%s.deletes %" PRIu64 "\n", n, s.deletes);
	dp_text_put(o, "cache.%s.evictions %" PRIu64 "\n", n, s.evictions);
	dp_text_put(o, "cache.%s.expirations %" PRIu64 "\n", n, s.expirations);
	dp_text_put(o, "cache.%s.resizes %" PRIu64 "\n", n, s.resizes);
}

size_t weft_dp_stats_format(struct weft_dp *dp, char *buf, size_t len)
{
	struct dp_text o = {buf, len, 0};
	if (buf && len)
		buf[0] = '\0';
	struct dp_counters total;
	memset(&total, 0, sizeof(total));
	for (unsigned i = 0; i < dp->n_workers; i++) {
		char prefix[32];
		snprintf(prefix, sizeof(prefix), "lcore.%u", i + 1);
		put_counters(&o, prefix, &dp->lc[i].c);
		dp_counters_add(&total, &dp->lc[i].c);
	}
	put_counters(&o, "total", &total);
	dp_auth_stats_format(dp, &total, &o);
	dp_mc_stats_format(dp, &o);

	struct dp_reasm_stats rs;
	dp_reasm_get_stats(dp->reasm, &rs);
	dp_text_put(&o, "reasm.started %" PRIu64 "\nreasm.completed %" PRIu64 "\nreasm.timeouts %" PRIu64
		"\nreasm.duplicates %" PRIu64 "\nreasm.refused %" PRIu64 "\nreasm.mismatched %" PRIu64
		"\nreasm.entries %" PRIu64 "\nreasm.bytes %" PRIu64 "\nreasm.src_refused %" PRIu64
		"\nreasm.sources %" PRIu64 "\n",
	    rs.started, rs.completed, rs.timeouts, rs.duplicates, rs.refused, rs.mismatched,
	    rs.entries, rs.bytes, rs.src_refused, rs.sources);
	struct dp_resp_stats ps;
	dp_resp_get_stats(dp->resp, &ps);
	dp_text_put(&o, "resp.kept %" PRIu64 "\nresp.refused %" PRIu64 "\nresp.evicted %" PRIu64
		"\nresp.expired %" PRIu64 "\nresp.fetches %" PRIu64 "\nresp.fetch_gone %" PRIu64
		"\nresp.entries %" PRIu64 "\nresp.bytes %" PRIu64 "\n",
	    ps.kept, ps.refused, ps.evicted, ps.expired, ps.fetches, ps.fetch_gone, ps.entries,
	    ps.bytes);
	struct dp_dedup_stats ds;
	dp_dedup_get_stats(dp->dedup, &ds);
	dp_text_put(&o, "dedup.inserted %" PRIu64 "\ndedup.replayed %" PRIu64 "\ndedup.inflight %" PRIu64
		"\ndedup.evicted %" PRIu64 "\ndedup.expired %" PRIu64 "\ndedup.entries %" PRIu64 "\n",
	    ds.inserted, ds.replayed, ds.inflight, ds.evicted, ds.expired, ds.entries);
	if (dp->ctl != NULL)
		dp_ctl_stats_format(dp->ctl, put_named, &o);
	put_rebalance(&o, dp->rebalance);
	put_sess_service(&o, dp->rebalance);
	weft_cache_foreach(dp->reg, put_cache, &o);
	return o.len;
}
