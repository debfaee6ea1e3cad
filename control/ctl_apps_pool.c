/*
 * ctl_apps_pool.c — the app thread pool and the per-thread in-node
 * clients.
 *
 * The pool starts with cfg.threads threads (default 4) and a bounded queue
 * (CTL_APPS_QUEUE jobs; full: -EBUSY). Some jobs run for a long time — a
 * listener runs until its app is undeployed, a daemon's start for the
 * daemon's whole life — so the pool grows: whenever a job is queued and no
 * idle thread is waiting for it, a thread is added, up to
 * CTL_APPS_POOL_MAX. Long-running jobs therefore never starve short ones
 * (init, fini, job fires, message callbacks) until that bound. Threads are
 * kept until the pool stops (no shrinking while the node runs). Stopping
 * refuses new jobs (-ECANCELED), lets the threads run what is queued, and
 * joins them.
 *
 * In-node clients: ctl_apps_thread_client gives the calling thread a
 * weft_client over its own dataplane local client (ctl_local.h),
 * made on first use and kept in a pthread key; the key's destructor closes
 * both when the thread ends (pool threads at ctl_pool_fini, the services'
 * thread when the services stop). Pool threads are not QSBR readers, so
 * weft_dp_local_close may wait for its grace period there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_apps_internal.h"
#include "ctl_local.h"

struct thread_client {
	struct weft_dp_local *l;
	weft_client *c;
};

static void *pool_main(void *arg)
{
	struct ctl_pool *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->n == 0 && !p->stopping) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->mu);
			p->idle--;
		}
		if (p->n == 0)
			break; /* stopping, nothing left */
		struct ctl_pool_job j = p->q[p->head];
		p->head = (p->head + 1) % CTL_APPS_QUEUE;
		if (--p->n == 0)
			p->warned = false;
		pthread_mutex_unlock(&p->mu);
		j.fn(j.arg);
		pthread_mutex_lock(&p->mu);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Adds a thread (p->mu held). 0 or a negative errno. */
static int pool_grow(struct ctl_pool *p)
{
	if (p->n_threads >= CTL_APPS_POOL_MAX)
		return -EAGAIN;
	int rc = pthread_create(&p->threads[p->n_threads], NULL, pool_main, p);
	if (rc != 0)
		return -rc;
	p->n_threads++;
	return 0;
}

int ctl_pool_init(struct ctl_pool *p, unsigned min)
{
	memset(p, 0, sizeof(*p));
	if (min == 0 || min > CTL_APPS_POOL_MAX)
		return -EINVAL;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_mutex_lock(&p->mu);
	int rc = 0;
	for (unsigned i = 0; i < min && rc == 0; i++)
		rc = pool_grow(p);
	pthread_mutex_unlock(&p->mu);
	if (rc != 0)
		ctl_pool_fini(p);
	return rc;
}

void ctl_pool_fini(struct ctl_pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stopping = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	/* n_threads only grows under mu and not once stopping is set. */
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	p->n_threads = 0;
	pthread_cond_destroy(&p->work);
	pthread_mutex_destroy(&p->mu);
}

int ctl_pool_submit(struct ctl_pool *p, void (*fn)(void *), void *arg)
{
	if (fn == NULL)
		return -EINVAL;
	pthread_mutex_lock(&p->mu);
	int rc = 0;
	if (p->stopping) {
		rc = -ECANCELED;
	} else if (p->n == CTL_APPS_QUEUE) {
		rc = -EBUSY;
	} else {
		p->q[(p->head + p->n) % CTL_APPS_QUEUE] = (struct ctl_pool_job){fn, arg};
		p->n++;
		/* Every idle thread takes one waiting job; more jobs than idle
		 * threads means the others are busy (maybe for good): grow. At
		 * the bound, the job waits for a thread to come free. */
		if (p->n > p->idle && pool_grow(p) == -EAGAIN && p->idle == 0 && !p->warned) {
			p->warned = true; /* once until the queue drains */
			weft_ctl_log(WEFT_LOG_WARN,
				     "app pool: all %u threads busy, jobs waiting", p->n_threads);
		}
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

unsigned ctl_pool_threads(struct ctl_pool *p)
{
	pthread_mutex_lock(&p->mu);
	unsigned n = p->n_threads;
	pthread_mutex_unlock(&p->mu);
	return n;
}

int ctl_apps_submit(struct ctl_apps *rt, void (*fn)(void *arg), void *arg)
{
	return ctl_pool_submit(&rt->pool, fn, arg);
}

/* --- per-thread in-node clients ------------------------------------------ */

/* The pthread key's destructor: the thread is ending. */
static void thread_client_free(void *arg)
{
	struct thread_client *tc = arg;
	weft_client_close(tc->c);
	weft_dp_local_close(tc->l);
	free(tc);
}

int ctl_apps_clients_init(struct ctl_apps *rt)
{
	return -pthread_key_create(&rt->tkey, thread_client_free);
}

weft_client *ctl_apps_thread_client(struct ctl_apps *rt)
{
	struct thread_client *tc = pthread_getspecific(rt->tkey);
	if (tc != NULL)
		return tc->c;
	if (rt->cfg.dp == NULL) {
		errno = ENOTCONN;
		return NULL;
	}
	tc = calloc(1, sizeof(*tc));
	if (tc == NULL)
		return NULL;
	uint32_t id = 0;
	tc->l = ctl_local_open(rt->cfg.dp, &id);
	if (tc->l == NULL) {
		int e = errno;
		free(tc);
		errno = e;
		return NULL;
	}
	tc->c = ctl_local_client(tc->l, id, rt->addr, NULL);
	int rc = tc->c != NULL ? pthread_setspecific(rt->tkey, tc) : errno;
	if (rc != 0) {
		weft_client_close(tc->c);
		weft_dp_local_close(tc->l);
		free(tc);
		errno = rc;
		return NULL;
	}
	return tc->c;
}
