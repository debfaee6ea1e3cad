/*
 * ctl_services_status.c — the status text of daemons and jobs, one line
 * each in the APPS format of include/weft/wire.h:
 *   daemon <app>/<name> <singleton|every-node> <state> epoch <e>
 *          since <unix_ms> owner <node-id|->
 *   job <app>/<name> <singleton|every-node> <state> epoch <e>
 *       next <unix_ms|-> last <unix_ms|-> result <int|-> fires <n>
 *       owner <node-id|->
 * state: running, idle, claiming or stopping (a singleton's, as its
 * machine says; an every-node unit is running from registration to its
 * stop). For a singleton, epoch / since / owner are those of this node's
 * run while it runs here, else those of the claim last read (owner "-"
 * and since 0 when it is released or unknown). Lines in registration
 * order, newest first. ctl_services_status takes sv->lock: any thread
 * but one holding it.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "ctl_services_internal.h"

__attribute__((format(printf, 4, 5))) static void put(char *buf, size_t cap, size_t *len,
							  const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(*len < cap ? buf + *len : NULL, *len < cap ? cap - *len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
}

static const char *state_name(enum weft_ctl_sgl_state st)
{
	switch (st) {
	case WEFT_CTL_SGL_CLAIMING:
		return "claiming";
	case WEFT_CTL_SGL_RUNNING:
		return "running";
	case WEFT_CTL_SGL_STOPPING:
		return "stopping";
	default:
		return "idle";
	}
}

/* Optional numbers: "-" when absent. */
static void put_opt(char *buf, size_t cap, size_t *len, const char *key, bool has, int64_t v)
{
	if (has)
		put(buf, cap, len, " %s %" PRId64, key, v);
	else
		put(buf, cap, len, " %s -", key);
}

void sv_status_unit(const struct ctl_services *sv, const struct sv_unit *u, char *buf,
		    size_t cap, size_t *len)
{
	const char *state = "idle";
	char owner[37] = "-";
	uint64_t epoch = u->epoch, since = u->since_ms;

	if (u->every_node) {
		if (u->stopping)
			state = "stopping";
		else if (u->active)
			state = "running";
		if (u->active)
			memcpy(owner, sv->self_text, sizeof(owner));
	} else {
		struct weft_ctl_sgl_status st;
		if (u->hosted && sv_sgl_find(sv, u->full, &st)) {
			state = state_name(st.state);
			if (st.state == WEFT_CTL_SGL_RUNNING || st.state == WEFT_CTL_SGL_STOPPING) {
				epoch = st.epoch;
				since = st.since_ms;
				memcpy(owner, sv->self_text, sizeof(owner));
			} else {
				epoch = st.claim.epoch;
				since = 0;
				if (st.claim.kind == WEFT_CTL_SGL_HELD) {
					since = st.claim.since_ms;
					weft_ctl_uuid_format(st.claim.owner.b, owner);
				}
			}
		} else if (u->gone && u->hosted) {
			state = "stopping";
		}
	}
	if (u->kind == SV_DAEMON) {
		put(buf, cap, len, "daemon %s %s %s epoch %" PRIu64 " since %" PRIu64 " owner %s\n",
		    u->full, u->every_node ? "every-node" : "singleton", state, epoch, since, owner);
		return;
	}
	const struct weft_job *j = (const struct weft_job *)u;
	bool sched = u->active && !u->stopping && j->job.next_ms >= 0 && !j->need_mark;
	put(buf, cap, len, "job %s %s %s epoch %" PRIu64, u->full,
	    u->every_node ? "every-node" : "singleton", state, epoch);
	put_opt(buf, cap, len, "next", sched, j->job.next_ms);
	put_opt(buf, cap, len, "last", j->last_fire_ms >= 0, j->last_fire_ms);
	put_opt(buf, cap, len, "result", j->have_result, j->last_result);
	put(buf, cap, len, " fires %" PRIu64 " owner %s\n", j->fires, owner);
}

size_t ctl_services_status(struct ctl_services *sv, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap > 0)
		buf[0] = '\0';
	if (sv == NULL)
		return 0;
	pthread_mutex_lock(&sv->lock);
	for (const struct sv_unit *u = sv->units; u != NULL; u = u->next)
		sv_status_unit(sv, u, buf, cap, &len);
	pthread_mutex_unlock(&sv->lock);
	return len;
}
