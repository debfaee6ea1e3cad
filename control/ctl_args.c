/*
 * ctl_args.c — weftd's command line:
 *   weftd [--config FILE] --port SPEC --bind IP [--lcores N] [--home DIR]
 *         [--offset K] [--poll busy|adaptive] [--mem MB] [--hugepages] [--verbose]
 *         [--log-level error|warn|info|debug]
 *         [--clustered] [--mcast-group IP] [--peers IP[,IP...]]
 *         [--node-name NAME] [--segments N] [--owners N]
 *         [--partition-handling allow|quorum]
 *         [--cluster-key FILE [--encrypt]] [--client-key FILE]
 *         [--unverified-reply-rate N] [--admin ADDR[:PORT]|off]
 *         [--memcached-port N] [--memcached-cache NAME]
 *         [--memcached-trust CIDR[,CIDR..]] [-- EAL args]
 * Clustering is on when --clustered or --peers is given; multicast discovery
 * only with --clustered. The default node name is the host name (sanitised)
 * plus "-" and the pid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <weft/wire.h>

#include "control.h"
#include "ctl_admin.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weftd --port SPEC --bind IP [options] [-- EAL args]\n"
		"  --port SPEC        af_packet:IFACE | af_xdp:IFACE | tap[:NAME] | virtio_user |\n"
		"                     memif:SOCKET | PCI address (\",k=v\" adds PMD arguments)\n"
		"  --bind IP          the node's IPv4 address on the port (answers ARP/ping)\n"
		"  --lcores N         worker lcores (default 1)\n"
		"  --home DIR         node home (default $WEFT_HOME or ./weft-home)\n"
		"  --offset K         data port = %u + K, cluster port = %u + K (default 0)\n"
		"  --poll MODE        adaptive (default: sleep when idle) or busy\n"
		"  --mem MB           EAL memory without hugepages (default 256)\n"
		"  --verbose          EAL and debug logs (--log-level debug)\n"
		"  --log-level L      error, warn, info (default) or debug\n"
		"  --hugepages        EAL memory (--mem) from hugepages, not --no-huge (NICs)\n"
		"  --clustered        form a cluster, finding nodes by IP multicast on the port\n"
		"  --mcast-group IP   discovery group (default 239.77.0.1)\n"
		"  --peers IP[,IP..]  form a cluster through these nodes (multicast stays off\n"
		"                     unless --clustered is also given; at most %u)\n"
		"  --node-name NAME   1-%u of [A-Za-z0-9._-] (default: host name-pid)\n"
		"  --segments N       key segments, a power of two %u..%u (default %u)\n"
		"  --owners N         owners per segment, primary + backups, 1..%u (default %u)\n"
		"  --partition-handling allow|quorum\n"
		"                     allow (default): every side of a partition keeps serving;\n"
		"                     quorum: a side without a majority refuses writes\n"
		"  --cluster-key FILE authenticate every node-to-node datagram with this key\n"
		"                     (32 bytes, or 64 hex digits; mode 0600 or 0400, yours)\n"
		"  --encrypt          also encrypt node-to-node traffic (needs --cluster-key)\n"
		"  --client-key FILE  refuse client requests not authenticated with this key\n"
		"  --unverified-reply-rate N\n"
		"                     replies per second to one address that has not done the\n"
		"                     cookie round trip, per worker lcore (default %u)\n"
		"  --admin ADDR[:PORT]|off\n"
		"                     admin HTTP plane (metrics, health, JSON) on a kernel socket\n"
		"                     (default 127.0.0.1:%u + K, K = --offset; off: none)\n"
		"  --memcached-port N memcached UDP endpoint (docs/memcached.md; default 11211 + K,\n"
		"                     K = --offset, off beyond 65535 or with --client-key; 0: off)\n"
		"  --memcached-cache NAME\n"
		"                     the cache it serves (default memcached)\n"
		"  --memcached-trust CIDR[,CIDR..]\n"
		"                     memcached clients given whole answers (at most 8 networks;\n"
		"                     others get no answer larger than their request)\n"
		"  --config FILE      options from FILE, one \"option = value\" a line (docs/install.md);\n"
		"                     the command line overrides them\n"
		"  --help             this text\n",
		WEFT_DEFAULT_PORT, WEFT_DEFAULT_PORT + 1, WEFT_CTL_MAX_PEERS, WEFT_CTL_NAME_MAX,
		1u << WEFT_CTL_SEGMENTS_LOG2_MIN, 1u << WEFT_CTL_SEGMENTS_LOG2_MAX,
		WEFT_CTL_SEGMENTS_DEFAULT, WEFT_CTL_OWNERS_MAX, WEFT_CTL_OWNERS_DEFAULT,
		WEFT_CTL_UNVERIFIED_RATE_DEFAULT, WEFT_CTL_ADMIN_PORT);
}

bool weft_ctl_name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > WEFT_CTL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return false;
	}
	return true;
}

/* host name (invalid characters become '-') + "-" + pid, within the bound. */
static void default_name(char out[WEFT_CTL_NAME_MAX + 1])
{
	char host[256] = "";
	char suffix[16];

	if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
		strcpy(host, "node");
	snprintf(suffix, sizeof(suffix), "-%ld", (long)getpid());
	size_t room = WEFT_CTL_NAME_MAX - strlen(suffix);
	size_t n = strnlen(host, room);
	for (size_t i = 0; i < n; i++) {
		char ch = host[i];
		out[i] = ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
				 ? ch : '-';
	}
	snprintf(out + n, WEFT_CTL_NAME_MAX + 1 - n, "%s", suffix);
}

/* "IP[,IP...]" -> a->peers (network order). 0 or -EINVAL. */
static int parse_peers(const char *list, struct weft_ctl_args *a)
{
	char buf[WEFT_CTL_MAX_PEERS * 16 + 1];

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	a->n_peers = 0;
	for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint32_t ip;
		if (a->n_peers == WEFT_CTL_MAX_PEERS || inet_pton(AF_INET, tok, &ip) != 1 ||
		    ip == 0 || ip == 0xffffffffu || (ntohl(ip) >> 28) == 0xe)
			return -EINVAL;
		a->peers[a->n_peers++] = ip;
	}
	return a->n_peers > 0 ? 0 : -EINVAL;
}

static int parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || s[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* A cache name weft_cache_open takes: 1..64 printable ASCII, no space. */
static bool mc_cache_name_ok(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return n > 0 && n <= WEFT_MAX_NAME_LEN;
}

/* --memcached-trust: "A.B.C.D/N[,...]" -> a->mc_trust. 0 or -EINVAL. */
static int parse_mc_trust(const char *s, struct weft_ctl_args *a)
{
	char buf[512];
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	a->n_mc_trust = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL;
	     t = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(t, '/');
		unsigned bits = 32;
		if (slash != NULL) {
			*slash = '\0';
			if (parse_uint(slash + 1, 32, &bits))
				return -EINVAL;
		}
		uint32_t ip;
		if (a->n_mc_trust == WEFT_CTL_MC_TRUST_MAX || inet_pton(AF_INET, t, &ip) != 1)
			return -EINVAL;
		uint32_t mask = bits == 0 ? 0 : htonl(~0u << (32 - bits));
		a->mc_trust[a->n_mc_trust].ip = ip & mask;
		a->mc_trust[a->n_mc_trust].mask = mask;
		a->n_mc_trust++;
	}
	return a->n_mc_trust > 0 ? 0 : -EINVAL;
}

/* --admin: "off", "ADDR" or "ADDR:PORT" -> a->admin_*. 0 or -EINVAL. */
static int parse_admin(const char *s, struct weft_ctl_args *a)
{
	char ip[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	a->admin_explicit = true;
	a->admin_port = 0;
	if (strcmp(s, "off") == 0) {
		a->admin_ip = 0;
		return 0;
	}
	if (n == 0 || n >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &a->admin_ip) != 1)
		return -EINVAL;
	if (colon == NULL)
		return 0;
	unsigned port;
	if (parse_uint(colon + 1, 65535, &port) != 0 || port == 0)
		return -EINVAL;
	a->admin_port = (uint16_t)port;
	return 0;
}

/* Every option (file scope: ctl_config.c asks weft_ctl_args_takes_value
 * about config file lines). */
static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'}, {"bind", required_argument, NULL, 'b'},
		{"lcores", required_argument, NULL, 'l'}, {"home", required_argument, NULL, 'H'},
		{"offset", required_argument, NULL, 'o'}, {"poll", required_argument, NULL, 'P'},
		{"mem", required_argument, NULL, 'm'}, {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'}, {"clustered", no_argument, NULL, 'c'},
		{"mcast-group", required_argument, NULL, 'g'},
		{"peers", required_argument, NULL, 'r'},
		{"node-name", required_argument, NULL, 'n'},
		{"segments", required_argument, NULL, 'S'},
		{"owners", required_argument, NULL, 'O'},
		{"partition-handling", required_argument, NULL, 'Q'},
		{"cluster-key", required_argument, NULL, 'K'},
		{"encrypt", no_argument, NULL, 'E'},
		{"client-key", required_argument, NULL, 'C'},
		{"unverified-reply-rate", required_argument, NULL, 'U'},
		{"admin", required_argument, NULL, 'A'},
		{"memcached-port", required_argument, NULL, 'M'},
		{"memcached-cache", required_argument, NULL, 'X'},
		{"memcached-trust", required_argument, NULL, 'T'},
		{"log-level", required_argument, NULL, 'L'},
		{"hugepages", no_argument, NULL, 'G'}, {NULL, 0, NULL, 0},
};

int weft_ctl_log_level_parse(const char *s, enum weft_ctl_log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0) {
			*out = (enum weft_ctl_log_level)i;
			return 0;
		}
	return -1;
}

int weft_ctl_args_takes_value(const char *name)
{
	for (const struct option *o = opts; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			return o->has_arg != no_argument;
	return -ENOENT;
}

int weft_ctl_args_parse_quiet(int argc, char **argv, struct weft_ctl_args *a, const char **why,
			      int *argi)
{
	memset(a, 0, sizeof(*a));
	a->lcores = 1;
	a->mem_mb = 256;
	a->poll = WEFT_DP_POLL_ADAPTIVE;
	a->segments = WEFT_CTL_SEGMENTS_DEFAULT;
	a->owners = WEFT_CTL_OWNERS_DEFAULT;
	a->unverified_rate = WEFT_CTL_UNVERIFIED_RATE_DEFAULT;
	a->log_level = WEFT_LOG_INFO;
	a->mcast_group = htonl(WEFT_DP_DEFAULT_GROUP);
	a->home = getenv("WEFT_HOME");
	if (a->home == NULL || a->home[0] == '\0')
		a->home = "./weft-home";
	optind = 0; /* glibc: a full reset (1 would keep a grouped option's
		     * position from an earlier call, pointing into its argv) */
	opterr = 0;
	a->admin_ip = htonl(INADDR_LOOPBACK);
	bool admin_port_given = false, admin_off = false;
	bool mc_port_given = false;
	unsigned mc_port = 0;
	int c, at = 1; /* argv index of the option being parsed */
	const char *bad = NULL;
	while (bad == NULL && (at = optind > 0 ? optind : 1,
			       c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			a->port_spec = optarg;
			break;
		case 'b':
			a->bind = optarg;
			if (inet_pton(AF_INET, optarg, &a->bind_ip) != 1 || a->bind_ip == 0)
				bad = "--bind needs an IPv4 address";
			break;
		case 'l':
			if (parse_uint(optarg, 64, &a->lcores) || a->lcores == 0)
				bad = "--lcores needs 1..64";
			break;
		case 'H':
			a->home = optarg;
			break;
		case 'o':
			if (parse_uint(optarg, 65535 - WEFT_DEFAULT_PORT, &a->offset))
				bad = "--offset is out of range";
			break;
		case 'P':
			if (strcmp(optarg, "busy") == 0)
				a->poll = WEFT_DP_POLL_BUSY;
			else if (strcmp(optarg, "adaptive") == 0)
				a->poll = WEFT_DP_POLL_ADAPTIVE;
			else
				bad = "--poll is busy or adaptive";
			break;
		case 'm':
			if (parse_uint(optarg, 1u << 20, &a->mem_mb) || a->mem_mb < 64)
				bad = "--mem needs at least 64 (MB)";
			break;
		case 'v':
			a->verbose = true;
			a->log_level = WEFT_LOG_DEBUG;
			break;
		case 'G':
			a->hugepages = true;
			break;
		case 'L':
			if (weft_ctl_log_level_parse(optarg, &a->log_level) != 0)
				bad = "--log-level is error, warn, info or debug";
			break;
		case 'c':
			a->clustered = true;
			break;
		case 'g':
			if (inet_pton(AF_INET, optarg, &a->mcast_group) != 1 ||
			    (ntohl(a->mcast_group) >> 28) != 0xe)
				bad = "--mcast-group needs an IPv4 multicast address (224.0.0.0/4)";
			break;
		case 'r':
			if (parse_peers(optarg, a) != 0)
				bad = "--peers needs 1-16 comma-separated unicast IPv4 addresses";
			break;
		case 'n':
			if (!weft_ctl_name_valid(optarg))
				bad = "--node-name needs 1-64 characters of [A-Za-z0-9._-]";
			else
				snprintf(a->node_name, sizeof(a->node_name), "%s", optarg);
			break;
		case 'S':
			if (parse_uint(optarg, 1u << WEFT_CTL_SEGMENTS_LOG2_MAX, &a->segments) ||
			    a->segments < (1u << WEFT_CTL_SEGMENTS_LOG2_MIN) ||
			    (a->segments & (a->segments - 1)))
				bad = "--segments needs a power of two from 1 to 65536";
			break;
		case 'O':
			if (parse_uint(optarg, WEFT_CTL_OWNERS_MAX, &a->owners) || a->owners == 0)
				bad = "--owners needs 1..8";
			break;
		case 'Q':
			if (strcmp(optarg, "allow") == 0)
				a->partition = WEFT_CTL_PARTITION_ALLOW;
			else if (strcmp(optarg, "quorum") == 0)
				a->partition = WEFT_CTL_PARTITION_QUORUM;
			else
				bad = "--partition-handling is allow or quorum";
			break;
		case 'K':
			a->cluster_key_file = optarg;
			break;
		case 'E':
			a->encrypt = true;
			break;
		case 'C':
			a->client_key_file = optarg;
			break;
		case 'U':
			if (parse_uint(optarg, WEFT_CTL_UNVERIFIED_RATE_MAX, &a->unverified_rate) ||
			    a->unverified_rate == 0)
				bad = "--unverified-reply-rate needs 1..1000000 (per second)";
			break;
		case 'A':
			if (parse_admin(optarg, a) != 0)
				bad = "--admin needs ADDR[:PORT] (IPv4, port 1..65535) or off";
			admin_off = strcmp(optarg, "off") == 0;
			admin_port_given = a->admin_port != 0;
			break;
		case 'M':
			if (parse_uint(optarg, 65535, &mc_port))
				bad = "--memcached-port needs 0..65535 (0: off)";
			mc_port_given = true;
			break;
		case 'X':
			a->mc_cache = optarg;
			if (!mc_cache_name_ok(optarg))
				bad = "--memcached-cache needs a cache name (1-64 printable characters, "
				      "no spaces)";
			break;
		case 'T':
			if (parse_mc_trust(optarg, a) != 0)
				bad = "--memcached-trust needs 1-8 comma-separated IPv4 networks A.B.C.D/N";
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			bad = "unknown option";
			break;
		}
	}
	int bad_at = bad != NULL ? at : 0; /* the argv index it is about, or 0 */
	if (bad == NULL && optind < argc && strcmp(argv[optind - 1], "--") != 0) {
		bad = "unexpected argument";
		bad_at = optind;
	}
	if (bad == NULL && a->port_spec == NULL)
		bad = "--port is required";
	if (bad == NULL && a->bind == NULL)
		bad = "--bind is required";
	if (bad == NULL && a->encrypt && a->cluster_key_file == NULL)
		bad = "--encrypt needs --cluster-key";
	if (bad == NULL && (a->clustered || a->n_peers > 0) &&
	    (uint32_t)WEFT_DEFAULT_PORT + 1 + a->offset > 65535)
		bad = "--offset is out of range (the cluster port is 7701 + K)";
	/* The default admin port; past 65535 there is none (weftd says so), as
	 * a single node only needs the data port 7700 + K. */
	if (bad == NULL && !admin_off && !admin_port_given &&
	    WEFT_CTL_ADMIN_PORT + a->offset <= 65535)
		a->admin_port = (uint16_t)(WEFT_CTL_ADMIN_PORT + a->offset);
	/* The memcached endpoint: 11211 + K by default, off when that is no
	 * port (an offset beyond 54324 leaves only the weft ports). */
	if (mc_port_given)
		a->mc_port = (uint16_t)mc_port;
	else if (a->client_key_file == NULL && WEFT_CTL_MC_PORT + a->offset <= 65535)
		a->mc_port = (uint16_t)(WEFT_CTL_MC_PORT + a->offset);
	/* memcached's protocol has no room for a client key: a node that
	 * requires one would serve the memcached cache to anyone. */
	if (bad == NULL && a->mc_port != 0 && a->client_key_file != NULL)
		bad = "--memcached-port with --client-key: memcached clients cannot carry a "
		      "client key (the endpoint is off by default with --client-key)";
	if (bad == NULL && a->mc_port != 0 &&
	    a->mc_port >= WEFT_DEFAULT_PORT + a->offset &&
	    a->mc_port <= WEFT_DEFAULT_PORT + 2 + a->offset)
		bad = "--memcached-port must differ from the data, cluster and in-node ports "
		      "(7700-7702 + K)";
	if (bad != NULL) {
		*why = bad;
		*argi = bad_at;
		return -EINVAL;
	}
	if (a->node_name[0] == '\0')
		default_name(a->node_name);
	a->n_eal_extra = argc - optind;
	a->eal_extra = argv + optind;
	return 0;
}

int weft_ctl_args_parse(int argc, char **argv, struct weft_ctl_args *a)
{
	const char *why;
	int argi;
	int rc = weft_ctl_args_parse_quiet(argc, argv, a, &why, &argi);
	if (rc == -EINVAL) {
		fprintf(stderr, "weftd: %s\n", why);
		usage(stderr);
	}
	return rc;
}
