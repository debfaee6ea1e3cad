/*
 * ctl_args.c — weftd's command line:
 *   weftd --port SPEC --bind IP [--lcores N] [--home DIR] [--offset K]
 *         [--poll busy|adaptive] [--mem MB] [--verbose] [-- EAL args]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/wire.h>

#include "control.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: weftd --port SPEC --bind IP [options] [-- EAL args]\n"
		"  --port SPEC        af_packet:IFACE | af_xdp:IFACE | tap[:NAME] | virtio_user |\n"
		"                     memif:SOCKET | PCI address (\",k=v\" adds PMD arguments)\n"
		"  --bind IP          the node's IPv4 address on the port (answers ARP/ping)\n"
		"  --lcores N         worker lcores (default 1)\n"
		"  --home DIR         node home (default $WEFT_HOME or ./weft-home)\n"
		"  --offset K         data port = %u + K (default 0)\n"
		"  --poll MODE        adaptive (default: sleep when idle) or busy\n"
		"  --mem MB           EAL memory without hugepages (default 256)\n"
		"  --verbose          EAL and debug logs\n"
		"  --help             this text\n",
		WEFT_DEFAULT_PORT);
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

int weft_ctl_args_parse(int argc, char **argv, struct weft_ctl_args *a)
{
	static const struct option opts[] = {
		{"port", required_argument, NULL, 'p'}, {"bind", required_argument, NULL, 'b'},
		{"lcores", required_argument, NULL, 'l'}, {"home", required_argument, NULL, 'H'},
		{"offset", required_argument, NULL, 'o'}, {"poll", required_argument, NULL, 'P'},
		{"mem", required_argument, NULL, 'm'}, {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	memset(a, 0, sizeof(*a));
	a->lcores = 1;
	a->mem_mb = 256;
	a->poll = WEFT_DP_POLL_ADAPTIVE;
	a->home = getenv("WEFT_HOME");
	if (a->home == NULL || a->home[0] == '\0')
		a->home = "./weft-home";
	optind = 1;
	opterr = 0;
	int c;
	const char *bad = NULL;
	while (bad == NULL && (c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
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
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			bad = "unknown option";
			break;
		}
	}
	if (bad == NULL && optind < argc && strcmp(argv[optind - 1], "--") != 0)
		bad = "unexpected argument";
	if (bad == NULL && a->port_spec == NULL)
		bad = "--port is required";
	if (bad == NULL && a->bind == NULL)
		bad = "--bind is required";
	if (bad != NULL) {
		fprintf(stderr, "weftd: %s\n", bad);
		usage(stderr);
		return -EINVAL;
	}
	a->n_eal_extra = argc - optind;
	a->eal_extra = argv + optind;
	return 0;
}
