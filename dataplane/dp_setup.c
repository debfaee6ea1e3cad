/*
 * dp_setup.c — the dataplane object: port configuration (one rx/tx queue
 * pair per worker), the mbuf pool, per-lcore state, the slow-path tables,
 * their ageing (weft_dp_maintain) and teardown.
 *
 * Invariants: dp->lc[w] serves queue w and is touched only by worker w
 * (and by STATS readers, read-only); the port is started last in create and
 * stopped first in destroy. The cluster channel (dp->ctl) exists when
 * cfg.ctl_port != 0; with a group the port is put in all-multicast mode
 * (ports that cannot, -ENOTSUP, are promiscuous or single-host anyway).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dp_msg_internal.h"

#define DP_RX_DESC 1024u
#define DP_TX_DESC 1024u
#define DP_POOL_CACHE 256u
#define DP_DEFAULT_TABLE_BYTES (64ull << 20)
#define DP_REASM_MAX_ENTRIES 4096u
#define DP_DEDUP_CAPACITY 65536u

static uint64_t mono_ms(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t weft_dp_now_ms(const struct weft_dp *dp)
{
	return dp->cfg.clock(dp->cfg.clock_arg);
}

void weft_dp_set_lease(struct weft_dp *dp, uint64_t until_ms)
{
	atomic_store_explicit(&dp->lease_until_ms, until_ms, memory_order_relaxed);
}

unsigned weft_dp_n_workers(const struct weft_dp *dp)
{
	return dp->n_workers;
}

static int port_setup(struct weft_dp *dp)
{
	struct rte_eth_dev_info info;
	int rc = rte_eth_dev_info_get(dp->port_id, &info);
	if (rc != 0)
		return rc;
	unsigned nq = dp->cfg.n_workers;
	if (nq > info.max_rx_queues)
		nq = info.max_rx_queues;
	if (nq > info.max_tx_queues)
		nq = info.max_tx_queues;
	if (nq == 0)
		return -ENODEV;
	if (nq < dp->cfg.n_workers)
		fprintf(stderr, "weft dataplane: port %u has %u queue pairs: using %u workers, not %u\n",
			dp->port_id, nq, nq, dp->cfg.n_workers);
	dp->n_workers = nq;

	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (nq > 1 && info.flow_type_rss_offloads) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf =
			(RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP) & info.flow_type_rss_offloads;
	}
	rc = rte_eth_dev_configure(dp->port_id, (uint16_t)nq, (uint16_t)nq, &conf);
	if (rc != 0)
		return rc;
	uint16_t nrx = DP_RX_DESC, ntx = DP_TX_DESC;
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(dp->port_id, &nrx, &ntx);
	if (rc != 0)
		return rc;

	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof(name), "weft_pool_%u", dp->port_id);
	unsigned n_mbufs = 4096 + nq * (nrx + ntx + DP_TX_CAP + DP_BURST + DP_POOL_CACHE);
	int socket = rte_eth_dev_socket_id(dp->port_id);
	dp->pool = rte_pktmbuf_pool_create(name, n_mbufs, DP_POOL_CACHE, 0,
					   RTE_MBUF_DEFAULT_BUF_SIZE, socket < 0 ? 0 : socket);
	if (dp->pool == NULL)
		return -rte_errno;
	for (unsigned q = 0; q < nq; q++) {
		rc = rte_eth_rx_queue_setup(dp->port_id, (uint16_t)q, nrx, (unsigned)socket, NULL,
					    dp->pool);
		if (rc == 0)
			rc = rte_eth_tx_queue_setup(dp->port_id, (uint16_t)q, ntx, (unsigned)socket,
						    NULL);
		if (rc != 0)
			return rc;
	}
	struct rte_ether_addr mac;
	rc = rte_eth_macaddr_get(dp->port_id, &mac);
	if (rc != 0)
		return rc;
	memcpy(dp->mac, mac.addr_bytes, 6);
	rc = rte_eth_dev_start(dp->port_id);
	if (rc != 0)
		return rc;
	dp->port_started = true;
	return 0;
}

struct weft_dp *weft_dp_create(const struct weft_dp_config *cfg, uint16_t port_id,
			       struct weft_cache_registry *reg)
{
	if (cfg == NULL || reg == NULL || cfg->n_workers == 0 || cfg->bind_ip == 0 ||
	    (cfg->ctl_port != 0 && cfg->ctl_port == cfg->udp_port) ||
	    (cfg->group_ip != 0 &&
	     (cfg->ctl_port == 0 || (((const uint8_t *)&cfg->group_ip)[0] & 0xf0) != 0xe0))) {
		errno = EINVAL;
		return NULL;
	}
	struct weft_dp *dp = calloc(1, sizeof(*dp));
	if (dp == NULL)
		return NULL;
	dp->cfg = *cfg;
	if (dp->cfg.clock == NULL)
		dp->cfg.clock = mono_ms;
	dp->port_id = port_id;
	dp->reg = reg;
	dp->bind_ip = cfg->bind_ip;
	dp->udp_port = rte_cpu_to_be_16(cfg->udp_port);
	dp->created_unix_ms = dp_unix_ms();
	uint64_t hz = rte_get_tsc_hz();
	dp->tsc_us_mult = hz ? (uint64_t)((1000000ull << 32) / hz) : 0;
	atomic_init(&dp->lease_until_ms, UINT64_MAX);
	dp->reasm = dp_reasm_create(cfg->reasm_max_bytes ? cfg->reasm_max_bytes
							 : DP_DEFAULT_TABLE_BYTES,
				    DP_REASM_MAX_ENTRIES);
	dp->resp = dp_resp_create(cfg->resp_max_bytes ? cfg->resp_max_bytes
						      : DP_DEFAULT_TABLE_BYTES);
	dp->dedup = dp_dedup_create(DP_DEDUP_CAPACITY);
	dp->rebalance = dp_rebalance_box_create();
	dp->msgs = weft_msg_reg_create();
	dp->msg_state = dp_msg_state_create();
	dp->locals = dp_locals_create(cfg->udp_port);
	int rc = -ENOMEM;
	if (dp->reasm == NULL || dp->resp == NULL || dp->dedup == NULL || dp->rebalance == NULL ||
	    dp->msgs == NULL || dp->msg_state == NULL || dp->locals == NULL ||
	    dp_sess_events_create(dp) != 0)
		goto fail;
	if (getrandom(&dp->node_client_id, sizeof(dp->node_client_id), 0) !=
	    (ssize_t)sizeof(dp->node_client_id))
		dp->node_client_id = (uint32_t)dp->created_unix_ms ^ (uint32_t)cfg->bind_ip;
	/* Message ids this node makes carry bits of this life's random id, so
	 * two nodes acting as a destination's primary never make the same. */
	weft_msg_reg_set_tag(dp->msgs, (uint16_t)(dp->node_client_id ^ dp->node_client_id >> 16));
	rc = port_setup(dp);
	if (rc != 0)
		goto fail;
	dp->lc = aligned_alloc(64, dp->n_workers * sizeof(*dp->lc));
	if (dp->lc == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	memset(dp->lc, 0, dp->n_workers * sizeof(*dp->lc));
	for (unsigned w = 0; w < dp->n_workers; w++) {
		dp->lc[w].dp = dp;
		dp->lc[w].queue = (uint16_t)w;
	}
	rc = dp_amp_create(dp);
	if (rc != 0)
		goto fail;
	rc = dp_auth_create(dp); /* NULL without keys */
	if (rc != 0)
		goto fail;
	rc = dp_mc_create(dp); /* nothing when cfg.mc_port is 0 */
	if (rc != 0)
		goto fail;
	if (cfg->ctl_port != 0) {
		dp->ctl = dp_ctl_create(dp);
		if (dp->ctl == NULL) {
			rc = -errno;
			goto fail;
		}
		for (unsigned w = 0; w < dp->n_workers; w++) {
			dp->lc[w].rpc = dp_rpc_create(w);
			if (dp->lc[w].rpc == NULL) {
				rc = -ENOMEM;
				goto fail;
			}
		}
	}
	if (cfg->group_ip != 0) {
		rc = rte_eth_allmulticast_enable(port_id);
		if (rc != 0 && rc != -ENOTSUP)
			goto fail;
	}
	return dp;
fail:
	weft_dp_destroy(dp);
	errno = rc < 0 ? -rc : EINVAL;
	return NULL;
}

void weft_dp_destroy(struct weft_dp *dp)
{
	if (dp == NULL)
		return;
	if (dp->port_started) {
		rte_eth_dev_stop(dp->port_id);
		rte_eth_dev_close(dp->port_id);
	}
	for (unsigned w = 0; dp->lc != NULL && w < dp->n_workers; w++) {
		if (dp->lc[w].n_tx)
			rte_pktmbuf_free_bulk(dp->lc[w].tx, dp->lc[w].n_tx);
		dp_rpc_destroy(dp->lc[w].rpc);
	}
	dp_amp_destroy(dp);
	dp_auth_destroy(dp);
	dp_mc_destroy(dp);
	dp_ctl_destroy(dp->ctl);
	dp_members_free(dp);
	dp_locals_destroy(dp->locals); /* its rings hold mbufs of the pool */
	dp_sess_events_destroy(dp);
	rte_mempool_free(dp->pool);
	dp_reasm_destroy(dp->reasm);
	dp_resp_destroy(dp->resp);
	dp_dedup_destroy(dp->dedup);
	dp_rebalance_box_destroy(dp->rebalance);
	dp_msg_state_destroy(dp->msg_state);
	if (dp->msgs != NULL)
		weft_msg_reg_destroy(dp->msgs);
	free(dp->lc);
	free(dp);
}

struct maint_arg {
	uint64_t now_ms;
	uint64_t version_floor;
};

static void maintain_cache(struct weft_cache *c, void *arg)
{
	const struct maint_arg *a = arg;
	weft_cache_maintain(c, a->now_ms, 1024);
	weft_cache_version_floor(c, a->version_floor);
}

void weft_dp_maintain(struct weft_dp *dp, uint64_t now_ms)
{
	dp_reasm_expire(dp->reasm, now_ms);
	dp_resp_expire(dp->resp, now_ms);
	dp_dedup_expire(dp->dedup, now_ms);
	/* Versions follow the wall clock (ms << 20, ~1M writes per ms of
	 * room) so that a new primary after a failover or a join writes newer
	 * versions than the entries it inherits. */
	struct maint_arg a = {now_ms, dp_unix_ms() << DP_VERSION_CLOCK_SHIFT};
	weft_cache_foreach(dp->reg, maintain_cache, &a);
}
