/*
 * dp_eal.c — from a node's command line to an initialised EAL with one port.
 *
 * Port specs (anything after the first ',' is appended to the PMD's
 * arguments, e.g. "memif:/run/w.sock,role=server"):
 *   af_packet:IFACE  net_af_packet, qpairs = workers, framecnt 4096 per ring
 *                    (a 1 MiB message is ~767 frames: a burst fits)
 *   af_xdp:IFACE     net_af_xdp, start_queue=0, queue_count=1 (one worker)
 *   tap[:NAME]       net_tap (iface NAME if given)
 *   virtio_user      net_virtio_user on /dev/vhost-net (checked first)
 *   memif:SOCKET     net_memif on SOCKET (client role unless ",role=server")
 *   DDDD:BB:DD.F     a PCI device (-a); every other spec adds --no-pci
 *
 * EAL options: --no-huge (unless hugepages) -m MEM (256 MiB default), --file-prefix weft-<pid>
 * and --no-shconf (many nodes per box, nothing left behind), warning-level
 * logs unless verbose, and an --lcores map: lcore 0 (the control thread) on
 * the first CPU the process may use, workers 1..N spread over the allowed
 * CPUs starting with the second (wrapping: several lcores share a CPU on a
 * small box, which adaptive polling makes bearable).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_ethdev.h>

#include "dp_internal.h"

struct argbuf {
	char **argv;
	int argc, max;
	char *buf;
	size_t used, len;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void add(struct argbuf *a, const char *fmt, ...)
{
	if (a->argc >= a->max) {
		a->full = true;
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(a->buf + a->used, a->len - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= a->len - a->used) {
		a->full = true;
		return;
	}
	a->argv[a->argc++] = a->buf + a->used;
	a->used += (size_t)n + 1;
}

static bool is_pci(const char *s)
{
	unsigned d, b, dev, f;
	char tail;
	return sscanf(s, "%x:%x:%x.%x%c", &d, &b, &dev, &f, &tail) == 4 ||
	       sscanf(s, "%x:%x.%x%c", &b, &dev, &f, &tail) == 3;
}

/* "kind:arg,extra" -> arg (up to ',') and extra (after it, may be ""). */
static void split_spec(const char *spec, size_t kind_len, char *arg, size_t arg_len,
		       const char **extra)
{
	const char *p = spec + kind_len;
	if (*p == ':')
		p++;
	size_t n = strcspn(p, ",");
	if (n >= arg_len)
		n = arg_len - 1;
	memcpy(arg, p, n);
	arg[n] = '\0';
	*extra = p[strcspn(p, ",")] == ',' ? p + strcspn(p, ",") : "";
}

static bool has_kind(const char *spec, const char *kind)
{
	size_t n = strlen(kind);
	return strncmp(spec, kind, n) == 0 && (spec[n] == '\0' || spec[n] == ':' || spec[n] == ',');
}

static int add_port(struct argbuf *a, const char *spec, unsigned n)
{
	char arg[256];
	const char *extra;
	if (has_kind(spec, "af_packet")) {
		split_spec(spec, 9, arg, sizeof(arg), &extra);
		if (!arg[0])
			return -EINVAL;
		add(a, "--vdev=net_af_packet0,iface=%s,qpairs=%u,blocksz=4096,framesz=2048,"
		       "framecnt=4096%s", arg, n, extra);
	} else if (has_kind(spec, "af_xdp")) {
		split_spec(spec, 6, arg, sizeof(arg), &extra);
		if (!arg[0])
			return -EINVAL;
		add(a, "--vdev=net_af_xdp0,iface=%s,start_queue=0,queue_count=1%s", arg, extra);
	} else if (has_kind(spec, "tap")) {
		split_spec(spec, 3, arg, sizeof(arg), &extra);
		if (arg[0])
			add(a, "--vdev=net_tap0,iface=%s%s", arg, extra);
		else
			add(a, "--vdev=net_tap0%s", extra);
	} else if (has_kind(spec, "virtio_user")) {
		split_spec(spec, 11, arg, sizeof(arg), &extra);
		if (access("/dev/vhost-net", R_OK | W_OK) != 0)
			return -ENODEV;
		add(a, "--vdev=net_virtio_user0,path=/dev/vhost-net,queues=%u,queue_size=1024%s",
		    n, extra);
	} else if (has_kind(spec, "memif")) {
		split_spec(spec, 5, arg, sizeof(arg), &extra);
		if (!arg[0])
			return -EINVAL;
		add(a, "--vdev=net_memif0,socket=%s%s%s", arg,
		    arg[0] == '/' ? ",socket-abstract=no" : "", extra);
	} else if (is_pci(spec)) {
		add(a, "-a");
		add(a, "%s", spec);
		return 0;
	} else {
		return -EINVAL;
	}
	add(a, "--no-pci");
	return 0;
}

static void add_lcores(struct argbuf *a, unsigned n)
{
	cpu_set_t set;
	int cpus[CPU_SETSIZE], ncpu = 0;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &set))
				cpus[ncpu++] = c;
	if (ncpu == 0)
		cpus[ncpu++] = 0;
	char map[1024];
	int off = snprintf(map, sizeof(map), "0@%d", cpus[0]);
	for (unsigned w = 1; w <= n && off < (int)sizeof(map); w++)
		off += snprintf(map + off, sizeof(map) - (size_t)off, ",%u@%d", w,
				cpus[(ncpu > 1 ? w : 0) % (unsigned)ncpu]);
	add(a, "--lcores");
	add(a, "%s", map);
}

int weft_dp_eal_args(const struct weft_dp_eal_opts *o, char **argv, int max, char *buf,
		     size_t buf_len)
{
	struct argbuf a = {argv, 0, max, buf, 0, buf_len, false};
	unsigned n = o->n_workers ? o->n_workers : 1;
	add(&a, "weftd");
	add_lcores(&a, n);
	if (!o->hugepages)
		add(&a, "--no-huge");
	add(&a, "-m");
	add(&a, "%u", o->mem_mb ? o->mem_mb : 256);
	add(&a, "--file-prefix");
	add(&a, "weft-%d", (int)getpid());
	add(&a, "--no-shconf");
	add(&a, "--no-telemetry");
	if (!o->verbose)
		add(&a, "--log-level=warning");
	int rc = add_port(&a, o->port_spec ? o->port_spec : "", n);
	if (rc < 0)
		return rc;
	for (int i = 0; i < o->n_extra; i++)
		add(&a, "%s", o->extra[i]);
	if (a.full)
		return -ENOSPC;
	argv[a.argc] = NULL;
	return a.argc;
}

int weft_dp_eal_init(const struct weft_dp_eal_opts *o)
{
	static char buf[8192];
	static char *argv[128];
	int argc = weft_dp_eal_args(o, argv, 127, buf, sizeof(buf));
	if (argc < 0)
		return argc;
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "weft dataplane: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -EIO;
	}
	return 0;
}

int weft_dp_eal_keep_off_workers(pthread_t t)
{
	cpu_set_t set;
	int rc = pthread_getaffinity_np(t, sizeof(set), &set);
	if (rc != 0)
		return -rc;
	unsigned lcore;
	RTE_LCORE_FOREACH_WORKER(lcore) {
		rte_cpuset_t w = rte_lcore_cpuset(lcore);
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &w))
				CPU_CLR(c, &set);
	}
	if (CPU_COUNT(&set) == 0)
		return 0; /* no other CPU: it shares one with a worker, as before */
	return -pthread_setaffinity_np(t, sizeof(set), &set);
}

int weft_dp_port_find(void)
{
	uint16_t port;
	RTE_ETH_FOREACH_DEV(port)
		return port;
	return -ENODEV;
}
