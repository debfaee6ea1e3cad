/*
 * weftd.c — main() of weftd: parse the command line, load the keys
 * (--cluster-key, --client-key: refused files end it with status 1),
 * prepare the home directory and node id, initialise the EAL and the port, start the worker
 * lcores, join the cluster (with --clustered or --peers; otherwise a single
 * node), start the sessions service, the app runtime and the admin plane
 * (--admin: an explicit one that cannot listen ends it with status 1), run the control
 * loop on the main thread until SIGINT/SIGTERM (a clustered node leaves
 * gracefully first), then undeploy the apps, stop the sessions service,
 * stop the lcores and free everything: exit 0, or 1 on
 * a setup failure or when the cluster refused this node (duplicate node
 * id).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/time.h>
#include <string.h>

#include <arpa/inet.h>

#include <rte_eal.h>
#include <urcu-qsbr.h>

#include <weft/wire.h>

#include "control.h"
#include "ctl_admin.h"
#include "ctl_app.h"
#include "ctl_config.h"
#include "ctl_sessions.h"
#include "sec.h"

/* --cluster-key / --client-key (docs/SECURITY.md): loads the keys weftd
 * hands the dataplane. 0, or -1 after logging why (the file, its mode). */
static int load_keys(const struct weft_ctl_args *a, struct weft_sec_key *cluster,
		     struct weft_sec_key *client)
{
	char err[512];
	if (a->cluster_key_file != NULL) {
		if (weft_sec_key_load(cluster, a->cluster_key_file, WEFT_AUTH_CLUSTER,
				      a->encrypt ? WEFT_AUTH_AEAD : WEFT_AUTH_MAC, err,
				      sizeof(err)) != 0) {
			weft_ctl_log(WEFT_LOG_ERROR, "--cluster-key: %s", err);
			return -1;
		}
	}
	if (a->client_key_file != NULL) {
		if (weft_sec_key_load(client, a->client_key_file, WEFT_AUTH_CLIENT, WEFT_AUTH_MAC,
				      err, sizeof(err)) != 0) {
			weft_ctl_log(WEFT_LOG_ERROR, "--client-key: %s", err);
			return -1;
		}
	}
	return 0;
}

static void log_keys(const struct weft_ctl_args *a, bool clustered, uint16_t udp_port)
{
	if (a->cluster_key_file != NULL)
		weft_ctl_log(WEFT_LOG_INFO, "cluster key %s: node-to-node traffic %s",
			     a->cluster_key_file,
			     a->encrypt ? "authenticated and encrypted (XChaCha20-Poly1305)"
					: "authenticated (keyed BLAKE2b), not encrypted");
	else if (clustered)
		weft_ctl_log(WEFT_LOG_WARN,
			     "**** no cluster key: any host that can reach %s:%u (cluster port) or "
			     "%s:%u can join this cluster, inject views and write replicated data; "
			     "see docs/SECURITY.md (--cluster-key) ****",
			     a->bind, udp_port + 1u, a->bind, udp_port);
	else
		weft_ctl_log(WEFT_LOG_WARN,
			     "no cluster key: this node would accept node-to-node requests from "
			     "any host that can reach %s:%u; see docs/SECURITY.md (--cluster-key)",
			     a->bind, udp_port);
	if (a->client_key_file != NULL)
		weft_ctl_log(WEFT_LOG_INFO, "client key %s: unauthenticated client requests are "
					    "refused (UNAUTHORIZED)", a->client_key_file);
}

/* The app runtime (ctl_app.h): deployments/, weftctl deploy. A node whose
 * runtime cannot start still serves the grid (logged). */
static struct ctl_apps *start_apps(struct weft_dp *dp, struct weft_cache_registry *reg,
				   const struct weft_ctl_args *a, const char *id, uint16_t port)
{
	uint8_t raw[16];
	if (weft_ctl_uuid_parse(id, raw) != 0)
		return NULL;
	struct ctl_apps_cfg ac = {.dp = dp, .home = a->home, .bind_ip = a->bind_ip,
				  .udp_port = port, .reg = reg, .node_name = a->node_name,
				  .node_id = raw};
	struct ctl_apps *apps = ctl_apps_create(&ac);
	if (apps == NULL)
		weft_ctl_log(WEFT_LOG_ERROR, "app runtime not started (%s): no apps on this node",
			     strerror(errno));
	return apps;
}

/* The admin plane (ctl_admin.h, docs/admin.md). A default one that cannot
 * listen is logged and the node runs without it; an explicit --admin that
 * cannot is an error (-1). */
static int start_admin(struct weft_dp *dp, const struct weft_ctl_args *a, bool clustered,
		       uint16_t udp_port, struct ctl_admin **out)
{
	struct ctl_admin_cfg c = {.dp = dp, .bind_ip = a->bind_ip, .udp_port = udp_port,
				  .listen_ip = a->admin_ip, .listen_port = a->admin_port,
				  .node_name = a->node_name, .clustered = clustered};
	char ip[INET_ADDRSTRLEN] = "";
	inet_ntop(AF_INET, &a->admin_ip, ip, sizeof(ip));
	*out = ctl_admin_start(&c);
	if (*out != NULL) {
		weft_ctl_log(WEFT_LOG_INFO, "admin plane on http://%s:%u (/metrics, /health, /api/)",
			     ip, a->admin_port);
		return 0;
	}
	weft_ctl_log(a->admin_explicit ? WEFT_LOG_ERROR : WEFT_LOG_WARN,
		     "admin plane cannot listen on %s:%u: %s%s", ip, a->admin_port,
		     strerror(errno),
		     a->admin_explicit ? "" : " (running without it; --admin ADDR:PORT or --admin off)");
	return a->admin_explicit ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct weft_ctl_args a;
	int rc = weft_ctl_config_args(argc, argv, &a); /* --config FILE, then argv */
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	weft_ctl_log_set_level(a.log_level);
	weft_ctl_log_set_node(a.node_name);
	struct weft_sec_key cluster_key, client_key;
	memset(&cluster_key, 0, sizeof(cluster_key));
	memset(&client_key, 0, sizeof(client_key));
	if (load_keys(&a, &cluster_key, &client_key) != 0)
		return 1;

	char id[37];
	bool created;
	rc = weft_ctl_home_init(a.home, id, &created);
	if (rc < 0) {
		weft_ctl_log(WEFT_LOG_ERROR, "home %s: %s", a.home, strerror(-rc));
		return 1;
	}
	weft_ctl_log(WEFT_LOG_INFO, "home %s, node id %s (%s)", a.home, id,
		     created ? "new" : "existing");
	a.restarted = !created;
	if (weft_ctl_signals_install() != 0) {
		weft_ctl_log(WEFT_LOG_ERROR, "cannot install signal handlers");
		return 1;
	}

	/* liburcu starts its call_rcu reclaim thread in whichever thread first
	 * retires memory, and the thread keeps that thread's CPU mask: left
	 * alone, an lcore pinned to one core would spawn it on its own core.
	 * Start it now, before EAL pins anything (its mask is then the
	 * process's), and narrow it once the workers are placed. */
	if (urcu_qsbr_get_default_call_rcu_data() == NULL) {
		weft_ctl_log(WEFT_LOG_ERROR, "cannot start the RCU reclaim thread");
		return 1;
	}

	struct weft_dp_eal_opts eo = {.port_spec = a.port_spec, .n_workers = a.lcores,
				      .mem_mb = a.mem_mb, .hugepages = a.hugepages, .verbose = a.verbose,
				      .n_extra = a.n_eal_extra, .extra = a.eal_extra};
	rc = weft_dp_eal_init(&eo);
	if (rc == -ENODEV) {
		weft_ctl_log(WEFT_LOG_ERROR, "virtio_user needs /dev/vhost-net (modprobe vhost_net)");
		return 1;
	}
	if (rc == -EINVAL) {
		weft_ctl_log(WEFT_LOG_ERROR,
			     "bad port spec '%s' (af_packet:IFACE, af_xdp:IFACE, tap[:NAME], "
			     "virtio_user, memif:SOCKET or a PCI address)", a.port_spec);
		return 1;
	}
	if (rc < 0) {
		weft_ctl_log(WEFT_LOG_ERROR, "EAL init failed for port '%s': %s", a.port_spec,
			     rc == -EIO ? "see the EAL message above" : strerror(-rc));
		return 1;
	}
	/* Now that the workers' CPUs are known: the reclaim thread keeps off
	 * them when the process has any other CPU (perf/RESULTS.md §6: it is a
	 * few percent of a core under puts, taken from a polling lcore when the
	 * kernel put it there). */
	rc = weft_dp_eal_keep_off_workers(
		urcu_qsbr_get_call_rcu_thread(urcu_qsbr_get_default_call_rcu_data()));
	if (rc < 0)
		weft_ctl_log(WEFT_LOG_WARN, "cannot move the RCU reclaim thread off the worker CPUs: %s",
			     strerror(-rc));
	int port = weft_dp_port_find();
	if (port < 0) {
		weft_ctl_log(WEFT_LOG_ERROR, "no port came up for '%s'", a.port_spec);
		rte_eal_cleanup();
		return 1;
	}

	int status = 1;
	bool clustered = a.clustered || a.n_peers > 0;
	struct weft_ctl_cluster *cl = NULL;
	urcu_qsbr_register_thread();
	struct weft_cache_registry *reg = weft_cache_registry_create();
	struct weft_dp_config cfg = {.bind_ip = a.bind_ip,
				     .udp_port = (uint16_t)(WEFT_DEFAULT_PORT + a.offset),
				     .n_workers = a.lcores, .poll = a.poll,
				     .unverified_reply_rate = a.unverified_rate};
	if (a.cluster_key_file != NULL)
		cfg.cluster_key = &cluster_key;
	if (a.client_key_file != NULL)
		cfg.client_key = &client_key;
	log_keys(&a, clustered, cfg.udp_port);
	if (clustered)
		cfg.ctl_port = (uint16_t)(WEFT_DEFAULT_PORT + 1 + a.offset);
	if (a.clustered)
		cfg.group_ip = a.mcast_group;
	cfg.mc_port = a.mc_port; /* the memcached endpoint (docs/memcached.md) */
	cfg.mc_cache = a.mc_cache;
	cfg.n_mc_trust = a.n_mc_trust;
	memcpy(cfg.mc_trust, a.mc_trust, sizeof(cfg.mc_trust));
	struct weft_dp *dp = reg ? weft_dp_create(&cfg, (uint16_t)port, reg) : NULL;
	weft_sec_key_wipe(&cluster_key); /* the dataplane keeps its own copies */
	weft_sec_key_wipe(&client_key);
	if (dp == NULL) {
		weft_ctl_log(WEFT_LOG_ERROR, "dataplane setup failed: %s", strerror(errno));
		goto out;
	}
	/* The lcores route by the snapshot: with none at all a clustered
	 * node's would serve every key here. The first one (this node alone;
	 * a restarted clustered node not listed in it) is up before they
	 * start; weft_ctl_cluster_create publishes it again. */
	struct timeval tv;
	gettimeofday(&tv, NULL);
	rc = weft_ctl_publish_self(dp, &a, id, cfg.udp_port,
				   (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u);
	if (rc < 0)
		weft_ctl_log(WEFT_LOG_WARN, "cannot publish the topology snapshot: %s",
			     strerror(-rc));
	rc = weft_dp_start(dp);
	if (rc < 0) {
		weft_ctl_log(WEFT_LOG_ERROR, "cannot launch worker lcores: %s", strerror(-rc));
		weft_dp_stop(dp);
		goto out;
	}
	weft_ctl_log(WEFT_LOG_INFO, "serving %s:%u on %s, %u worker lcore(s), %s polling",
		     a.bind, WEFT_DEFAULT_PORT + a.offset, a.port_spec, weft_dp_n_workers(dp),
		     a.poll == WEFT_DP_POLL_BUSY ? "busy" : "adaptive");
	if (clustered) {
		cl = weft_ctl_cluster_create(dp, reg, &a, id, cfg.ctl_port);
		if (cl == NULL) {
			weft_ctl_log(WEFT_LOG_ERROR, "cannot start the membership: %s",
				     strerror(errno));
			weft_dp_stop(dp);
			goto out;
		}
		char group[INET_ADDRSTRLEN] = "";
		inet_ntop(AF_INET, &a.mcast_group, group, sizeof(group));
		weft_ctl_log(WEFT_LOG_INFO,
			     "node %s joining a cluster on %s:%u (multicast %s%s, %u peer(s))",
			     a.node_name, a.bind, cfg.ctl_port, a.clustered ? "on " : "off",
			     a.clustered ? group : "", a.n_peers);
	}
	/* The sessions service (ctl_sessions.h): session events and expiry. A
	 * node without it still serves sessions (logged): the other owners'
	 * passes expire them, and any op finding one past its deadline ends it;
	 * it publishes no events. */
	struct ctl_sessions_cfg sc = {.dp = dp, .reg = reg, .bind_ip = a.bind_ip,
				      .udp_port = cfg.udp_port};
	struct ctl_sessions *sess = ctl_sessions_start(&sc);
	if (sess == NULL)
		weft_ctl_log(WEFT_LOG_ERROR, "sessions service not started (%s): no session "
					     "events or expiry from this node", strerror(errno));
	struct ctl_apps *apps = start_apps(dp, reg, &a, id, cfg.udp_port);
	struct ctl_admin *admin = NULL;
	if (a.admin_port == 0 && !a.admin_explicit)
		weft_ctl_log(WEFT_LOG_WARN, "no admin plane: its default port 9190 + %u is above "
					    "65535 (--admin ADDR:PORT)", a.offset);
	if (a.admin_port != 0 && start_admin(dp, &a, clustered, cfg.udp_port, &admin) != 0) {
		ctl_apps_destroy(apps);
		ctl_sessions_stop(sess);
		weft_dp_stop(dp);
		goto out;
	}
	rc = weft_ctl_run(dp, cl, apps);
	ctl_admin_stop(admin); /* first: it reads the dataplane */
	weft_ctl_log(WEFT_LOG_INFO, rc == -EPERM ? "stopping: refused by the cluster"
						 : "shutting down");
	ctl_apps_destroy(apps); /* apps' last calls still reach the grid */
	ctl_sessions_stop(sess); /* after the apps: their last events go out */
	weft_dp_stop(dp);
	status = rc == 0 ? 0 : 1;
out:
	weft_ctl_cluster_destroy(cl);
	weft_dp_destroy(dp);
	if (reg)
		weft_cache_registry_destroy(reg);
	urcu_qsbr_unregister_thread();
	rte_eal_cleanup();
	if (status == 0)
		weft_ctl_log(WEFT_LOG_INFO, "stopped");
	weft_ctl_log_flush();
	return status;
}
