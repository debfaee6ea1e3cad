/*
 * test_ctl_admin.c — the admin plane's renderers (control/ctl_admin_*.c)
 * on hand-built snapshots: every /metrics line parses as the Prometheus
 * text format 0.0.4 says (HELP, TYPE, then the family's samples, families
 * contiguous, names and escaped labels valid), the expected samples are
 * there with their values, label values are escaped (quotes, backslashes,
 * newlines, bytes that are not UTF-8), JSON documents carry the view and
 * the caches, /health's verdicts, and the --admin option.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "control.h"
#include "ctl_admin.h"
#include "ctl_admin_internal.h"

#define NOW 100000u

static const char stats_text[] =
	"lcore.1.rx_packets 10\n"
	"lcore.1.req.get 5\n"
	"lcore.1.drop.bad_ip 2\n"
	"lcore.1.auth_refused_missing 1\n"
	"lcore.1.latency_us.read.le_1 1\n"
	"lcore.1.latency_us.read.le_2 3\n"
	"lcore.1.latency_us.read.le_16777216 4\n"
	"lcore.1.latency_us.read.le_inf 5\n"
	"lcore.1.latency_us.read.count 5\n"
	"lcore.1.latency_us.read.sum 30000000\n"
	"lcore.1.latency_us.write.le_1 0\n"
	"lcore.1.latency_us.write.le_inf 0\n"
	"lcore.1.latency_us.write.count 0\n"
	"lcore.1.latency_us.write.sum 0\n"
	"lcore.2.rx_packets 20\n"
	"lcore.2.req.get 6\n"
	"lcore.2.drop.bad_ip 1\n"
	"lcore.2.auth_refused_missing 0\n"
	"lcore.2.latency_us.write.le_4 2\n"
	"lcore.2.latency_us.write.le_inf 2\n"
	"lcore.2.latency_us.write.count 2\n"
	"lcore.2.latency_us.write.sum 7\n"
	"total.latency_us.read.count 5\n"
	"total.rx_packets 30\n"
	"total.req.get 11\n"
	"total.req.put 2\n"
	"total.drop.bad_ip 3\n"
	"reasm.entries 4\n"
	"reasm.timeouts 8\n"
	"auth.refused_missing 1\n"
	"rebalance.view 7\n"
	"rebalance.moves_pending 0\n"
	"rebalance.last_duration_ms 1500\n"
	"cache.plain.mode distributed\n"
	"cache.plain.entries 7\n"
	"cache.plain.hits 9\n"
	"cache.we\"ird\\na.me\xff.mode local\n"
	"cache.we\"ird\\na.me\xff.entries 1\n"
	"mc.port 11211\n"
	"mc.cache memcached\n"
	"mc.lcore.1.rx 6\n"
	"mc.lcore.1.cmd.get 4\n"
	"mc.total.rx 6\n"
	"future.thing 4\n"
	"no_value_line\n";

static const char dests_text[] =
	"/queue/work primary depth=3 bytes=30 inflight=1 consumers=2 published=9 dead=0\n"
	"/queue/other backup depth=5 bytes=50\n";

static const char apps_text[] =
	"app demo loaded 1700000000000 generation 1\n"
	"daemon demo/counter singleton running epoch 4 since 1700000000000 owner "
	"00000000-0000-4000-8000-000000000002\n"
	"job demo/tick every-node idle epoch 0 next 1700000001000 last - result - fires 12 "
	"owner -\n";

static struct weft_dp_members *members(unsigned n, uint32_t self, bool no_quorum)
{
	struct weft_dp_members *m = calloc(1, sizeof(*m) + n * sizeof(m->m[0]));
	assert_non_null(m);
	m->view = 7;
	m->n = n;
	m->self = self;
	m->no_quorum = no_quorum;
	for (unsigned i = 0; i < n; i++) {
		snprintf(m->m[i].name, sizeof(m->m[i].name), "n%u", i + 1);
		snprintf(m->m[i].id, sizeof(m->m[i].id), "00000000-0000-4000-8000-00000000000%u",
			 i + 1);
		m->m[i].ip = htonl(0x0aec0001u + i);
		m->m[i].port = 7700;
		m->m[i].state = i == 2 ? WEFT_DP_MEMBER_DEAD : WEFT_DP_MEMBER_ALIVE;
		m->m[i].start_unix_ms = 1000;
	}
	return m;
}

static struct adm_snap *snap(void)
{
	struct adm_snap *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->node_name = "n1";
	s->clustered = true;
	s->dp_ok = true;
	s->unix_ms = 61000;
	s->mono_ms = NOW;
	s->stats = strdup(stats_text);
	s->stats_len = strlen(stats_text);
	s->members = members(3, 0, false);
	s->dests = strdup(dests_text);
	s->dests_len = strlen(dests_text);
	s->apps = strdup(apps_text);
	s->apps_len = strlen(apps_text);
	struct weft_topology *t = calloc(1, sizeof(*t) + 3 * sizeof(t->members[0]) +
						   8 * sizeof(uint16_t));
	assert_non_null(t);
	t->epoch = 7;
	t->n_segments = 4;
	t->n_segments_log2 = 2;
	t->owners = 2;
	t->n_members = 3;
	t->members = (struct weft_topology_member *)(t + 1);
	t->owner = (uint16_t *)(t->members + 3);
	for (unsigned i = 0; i < 3; i++)
		snprintf(t->members[i].name, sizeof(t->members[i].name), "n%u", i + 1);
	static const uint16_t own[8] = {0, 1, 1, 0, 0, 1, 1, 0};
	memcpy(t->owner, own, sizeof(own));
	s->topo = t;
	for (unsigned i = 0; i < ADM_PROBE_BUCKETS - 1; i++)
		s->probe_le[i] = 1; /* cumulative, as ctl_admin.c counts them */
	s->probe_le[ADM_PROBE_BUCKETS - 1] = 3;
	s->probe_count = 4;
	s->probe_sum_s = 0.5;
	return s;
}

/* --- a strict reader of the exposition format -------------------------------- */

static bool name_ok(const char *s, size_t n)
{
	if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') ||
			s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* Parses "{k="v",...}" at *p; advances past it. false when malformed. */
static bool labels_ok(const char **p)
{
	const char *s = *p;
	if (*s != '{')
		return true;
	s++;
	while (*s != '}') {
		const char *k = s;
		while (*s && *s != '=')
			s++;
		if (*s != '=' || !name_ok(k, (size_t)(s - k)) || s[1] != '"')
			return false;
		s += 2;
		while (*s != '"') {
			if (*s == '\0' || *s == '\n')
				return false;
			if (*s == '\\') {
				if (s[1] != '\\' && s[1] != '"' && s[1] != 'n')
					return false;
				s++;
			}
			s++;
		}
		s++;
		if (*s == ',')
			s++;
		else if (*s != '}')
			return false;
	}
	*p = s + 1;
	return true;
}

/* One histogram series (its labels but le) seen by check_exposition. */
struct hseries {
	char fam[128];
	char key[256];
	double last_le, last_bucket, inf, count;
	bool has_inf, has_count, has_sum;
};

/* The series of histogram fam with labels lab (le="..." taken out, *le
 * set to its value, or NAN without one). */
static struct hseries *hseries_of(struct hseries *h, unsigned *n, const char *fam,
				  const char *lab, size_t lab_len, double *le)
{
	char key[256];
	assert_true(lab_len < sizeof(key));
	size_t k = 0;
	*le = NAN;
	for (size_t i = 0; i < lab_len;) {
		if ((i == 0 || lab[i - 1] == ',' || lab[i - 1] == '{') &&
		    strncmp(lab + i, "le=\"", 4) == 0) {
			const char *q = strchr(lab + i + 4, '"');
			assert_non_null(q);
			char v[40];
			snprintf(v, sizeof(v), "%.*s", (int)(q - (lab + i + 4)), lab + i + 4);
			char *end;
			*le = strtod(v, &end);
			assert_true(end != v && *end == '\0');
			i = (size_t)(q - lab) + 1;
			if (i < lab_len && lab[i] == ',')
				i++;
			continue;
		}
		key[k++] = lab[i++];
	}
	if (k >= 2 && key[k - 2] == ',') /* le was last: {a="x",} */
		key[--k - 1] = '}';
	if (k == 2) /* le alone: {} */
		k = 0;
	key[k] = '\0';
	for (unsigned i = 0; i < *n; i++)
		if (strcmp(h[i].fam, fam) == 0 && strcmp(h[i].key, key) == 0)
			return &h[i];
	assert_true(*n < 64);
	struct hseries *s = &h[(*n)++];
	memset(s, 0, sizeof(*s));
	snprintf(s->fam, sizeof(s->fam), "%s", fam);
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->last_le = -INFINITY;
	return s;
}

struct fam {
	char name[128];
	char type[32];
};

/* Checks the whole text; returns the number of samples. */
static unsigned check_exposition(const char *text)
{
	struct fam seen[256];
	static struct hseries hs[64];
	unsigned n_seen = 0, samples = 0, n_hs = 0;
	char cur[128] = "", cur_type[32] = "";
	bool have_help = false;
	const char *line = text;
	assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	while (*line) {
		const char *nl = strchr(line, '\n');
		assert_non_null(nl);
		size_t n = (size_t)(nl - line);
		char buf[4096];
		assert_true(n < sizeof(buf));
		memcpy(buf, line, n);
		buf[n] = '\0';
		if (strncmp(buf, "# HELP ", 7) == 0) {
			const char *name = buf + 7, *sp = strchr(name, ' ');
			assert_non_null(sp);
			assert_true(name_ok(name, (size_t)(sp - name)));
			for (unsigned i = 0; i < n_seen; i++) /* families are contiguous */
				assert_false(strlen(seen[i].name) == (size_t)(sp - name) &&
					     strncmp(seen[i].name, name, (size_t)(sp - name)) == 0);
			snprintf(cur, sizeof(cur), "%.*s", (int)(sp - name), name);
			have_help = true;
			cur_type[0] = '\0';
		} else if (strncmp(buf, "# TYPE ", 7) == 0) {
			char name[128], type[32];
			assert_int_equal(sscanf(buf + 7, "%127s %31s", name, type), 2);
			assert_true(have_help);
			assert_string_equal(name, cur);
			assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
				    strcmp(type, "histogram") == 0 || strcmp(type, "untyped") == 0);
			if (strcmp(type, "counter") == 0)
				assert_true(strlen(name) > 6 &&
					    strcmp(name + strlen(name) - 6, "_total") == 0);
			snprintf(cur_type, sizeof(cur_type), "%s", type);
			assert_true(n_seen < 256);
			snprintf(seen[n_seen].name, sizeof(seen[n_seen].name), "%s", name);
			snprintf(seen[n_seen].type, sizeof(seen[n_seen].type), "%s", type);
			n_seen++;
			have_help = false;
		} else {
			assert_true(buf[0] != '#');
			assert_true(cur_type[0] != '\0'); /* a sample follows its TYPE */
			const char *p = buf;
			while (*p && *p != '{' && *p != ' ')
				p++;
			size_t nn = (size_t)(p - buf);
			assert_true(name_ok(buf, nn));
			bool same = nn == strlen(cur) && strncmp(buf, cur, nn) == 0;
			if (!same && strcmp(cur_type, "histogram") == 0) {
				char tail[32];
				snprintf(tail, sizeof(tail), "%.*s", (int)(nn - strlen(cur)),
					 buf + strlen(cur));
				same = strncmp(buf, cur, strlen(cur)) == 0 &&
				       (strcmp(tail, "_bucket") == 0 || strcmp(tail, "_sum") == 0 ||
					strcmp(tail, "_count") == 0);
			}
			assert_true(same);
			const char *lab0 = p;
			assert_true(labels_ok(&p));
			assert_true(*p == ' ');
			char *end;
			double v = strtod(p + 1, &end);
			assert_true(end != p + 1 && *end == '\0');
			assert_false(isnan(v));
			if (strcmp(cur_type, "histogram") == 0) {
				/* buckets rise with le, +Inf == _count, one _sum */
				double le;
				struct hseries *h = hseries_of(hs, &n_hs, cur, lab0,
							       (size_t)(p - lab0), &le);
				const char *tail = buf + strlen(cur);
				if (strncmp(tail, "_bucket", 7) == 0) {
					assert_false(isnan(le));
					assert_true(le > h->last_le && v >= h->last_bucket);
					h->last_le = le;
					h->last_bucket = v;
					if (isinf(le)) {
						h->inf = v;
						h->has_inf = true;
					}
				} else if (strncmp(tail, "_count", 6) == 0) {
					assert_true(isnan(le));
					h->count = v;
					h->has_count = true;
				} else {
					assert_true(isnan(le) && v >= 0);
					h->has_sum = true;
				}
			}
			samples++;
		}
		line = nl + 1;
	}
	for (unsigned i = 0; i < n_hs; i++) {
		assert_true(hs[i].has_inf && hs[i].has_count && hs[i].has_sum);
		assert_true(hs[i].inf == hs[i].count);
	}
	return samples;
}

static void test_prom_parses(void **state)
{
	(void)state;
	struct adm_snap *s = snap();
	size_t len;
	char *t = adm_prom_render(s, NOW + 500, &len);
	assert_non_null(t);
	assert_int_equal(strlen(t), len);
	assert_true(check_exposition(t) > 50);
	free(t);
	/* A snapshot missing every part still renders a valid text. */
	struct adm_snap empty = {.node_name = "x", .mono_ms = NOW};
	t = adm_prom_render(&empty, NOW, &len);
	assert_non_null(t);
	check_exposition(t);
	free(t);
	adm_snap_free(s);
}

static void has(const char *text, const char *line)
{
	char want[512];
	snprintf(want, sizeof(want), "\n%s\n", line);
	if (strstr(text, want) == NULL)
		fail_msg("missing line: %s", line);
}

static void test_prom_samples(void **state)
{
	(void)state;
	struct adm_snap *s = snap();
	size_t len;
	char *t = adm_prom_render(s, NOW + 500, &len);
	assert_non_null(t);
	has(t, "weft_lcore_requests_total{lcore=\"1\",op=\"get\"} 5");
	has(t, "weft_lcore_requests_total{lcore=\"2\",op=\"get\"} 6");
	has(t, "weft_lcore_rx_packets_total{lcore=\"2\"} 20");
	has(t, "weft_lcore_drops_total{lcore=\"1\",reason=\"bad_ip\"} 2");
	has(t, "weft_lcore_auth_refused_total{lcore=\"1\",reason=\"missing\"} 1");
	has(t, "weft_drops_total{reason=\"bad_ip\"} 3");
	has(t, "weft_reasm_entries 4");
	has(t, "# TYPE weft_reasm_entries gauge");
	has(t, "weft_reasm_timeouts_total 8");
	has(t, "weft_auth_refused_total{reason=\"missing\"} 1");
	has(t, "weft_rebalance_view 7");
	has(t, "weft_rebalance_moves_pending 0");
	has(t, "weft_rebalance_last_duration_seconds 1.5");
	has(t, "weft_cache_info{cache=\"plain\",mode=\"distributed\"} 1");
	has(t, "weft_cache_entries{cache=\"plain\"} 7");
	has(t, "weft_cache_hits_total{cache=\"plain\"} 9");
	/* quote, backslash and a byte that is not UTF-8 in a cache name */
	has(t, "weft_cache_entries{cache=\"we\\\"ird\\\\na.me\xef\xbf\xbd\"} 1");
	has(t, "weft_stat{stat=\"future.thing\"} 4");
	has(t, "weft_memcached_commands_total{lcore=\"1\",command=\"get\"} 4");
	has(t, "weft_memcached_rx_total{lcore=\"1\"} 6");
	has(t, "weft_memcached_info{cache=\"memcached\"} 1");
	has(t, "weft_memcached_port 11211");
	assert_null(strstr(t, "mc.total"));
	assert_null(strstr(t, "total.rx_packets"));
	assert_null(strstr(t, "no_value_line"));
	has(t, "weft_view_id 7");
	has(t, "weft_members{state=\"alive\"} 2");
	has(t, "weft_members{state=\"dead\"} 1");
	has(t, "weft_member_state{member=\"n3\",state=\"dead\"} 1");
	has(t, "weft_member_state{member=\"n3\",state=\"alive\"} 0");
	has(t, "weft_member_uptime_seconds{member=\"n1\"} 60");
	has(t, "weft_no_quorum 0");
	has(t, "weft_healthy 1");
	has(t, "weft_member_segments{member=\"n1\",role=\"primary\"} 2");
	has(t, "weft_member_segments{member=\"n2\",role=\"backup\"} 2");
	has(t, "weft_member_segments{member=\"n3\",role=\"primary\"} 0");
	has(t, "weft_destination_depth{destination=\"/queue/work\",role=\"primary\"} 3");
	has(t, "weft_destination_published_total{destination=\"/queue/work\",role=\"primary\"} 9");
	has(t, "weft_daemon_info{daemon=\"demo/counter\",mode=\"singleton\",state=\"running\","
	       "owner=\"n2\"} 1");
	has(t, "weft_job_fires_total{job=\"demo/tick\"} 12");
	has(t, "weft_job_next_fire_timestamp_seconds{job=\"demo/tick\"} 1700000001");
	assert_null(strstr(t, "weft_job_last_fire_timestamp_seconds"));
	/* the node's request latency: one histogram per lcore and kind */
	has(t, "# TYPE weft_request_duration_seconds histogram");
	has(t, "weft_request_duration_seconds_bucket{lcore=\"1\",kind=\"read\",le=\"1e-06\"} 1");
	has(t, "weft_request_duration_seconds_bucket{lcore=\"1\",kind=\"read\",le=\"2e-06\"} 3");
	has(t, "weft_request_duration_seconds_bucket{lcore=\"1\",kind=\"read\","
	       "le=\"16.777216\"} 4");
	has(t, "weft_request_duration_seconds_bucket{lcore=\"1\",kind=\"read\",le=\"+Inf\"} 5");
	has(t, "weft_request_duration_seconds_count{lcore=\"1\",kind=\"read\"} 5");
	has(t, "weft_request_duration_seconds_sum{lcore=\"1\",kind=\"read\"} 30");
	has(t, "weft_request_duration_seconds_bucket{lcore=\"2\",kind=\"write\",le=\"4e-06\"} 2");
	has(t, "weft_request_duration_seconds_sum{lcore=\"2\",kind=\"write\"} 7e-06");
	assert_null(strstr(t, "weft_lcore_latency")); /* no counter per bucket line */
	assert_null(strstr(t, "total.latency_us"));
	has(t, "weft_probe_ping_seconds_bucket{le=\"5e-05\"} 1");
	has(t, "weft_probe_ping_seconds_bucket{le=\"+Inf\"} 4");
	has(t, "weft_probe_ping_seconds_count 4");
	has(t, "weft_admin_snapshot_age_seconds 0.5");
	free(t);
	adm_snap_free(s);
}

static void test_escaping(void **state)
{
	(void)state;
	struct adm_buf b = {0};
	static const char in[] = "a\"b\\c\nd\xff\x01\xc3\xa9";
	adm_prom_label_value(&b, in, sizeof(in) - 1);
	assert_string_equal(b.p, "a\\\"b\\\\c\\nd\xef\xbf\xbd\xef\xbf\xbd\xc3\xa9");
	b.len = 0;
	adm_json_str(&b, in, sizeof(in) - 1);
	assert_string_equal(b.p, "\"a\\\"b\\\\c\\u000ad\\ufffd\\u0001\xc3\xa9\"");
	b.len = 0;
	adm_prom_name(&b, "weft_", "a.b-c", 5, "_total");
	assert_string_equal(b.p, "weft_a_b_c_total");
	/* an overlong encoding and a surrogate are not UTF-8 */
	b.len = 0;
	adm_prom_label_value(&b, "\xc0\xaf\xed\xa0\x80", 5);
	assert_null(strchr(b.p, '\xc0'));
	assert_null(strchr(b.p, '\xa0'));
	adm_buf_free(&b);
}

/* adm_next_tokens walks DESTINATIONS / APPS lines: every line in order
 * (an empty one with no tokens, the last without its newline), at most
 * max tokens each; a NULL text has none. */
static void test_line_tokens(void **state)
{
	(void)state;
	static const char text[] = "q1 primary depth=3 bytes=9\n\n  a  b \nlast x";
	const char *tok[3];
	size_t tl[3], pos = 0;
	unsigned k;
	assert_true(adm_next_tokens(text, sizeof(text) - 1, &pos, tok, tl, 3, &k));
	assert_int_equal(k, 3);
	assert_int_equal(tl[2], 7);
	assert_memory_equal(tok[2], "depth=3", 7);
	assert_true(adm_next_tokens(text, sizeof(text) - 1, &pos, tok, tl, 3, &k));
	assert_int_equal(k, 0);
	assert_true(adm_next_tokens(text, sizeof(text) - 1, &pos, tok, tl, 3, &k));
	assert_int_equal(k, 2);
	assert_memory_equal(tok[1], "b", tl[1]);
	assert_true(adm_next_tokens(text, sizeof(text) - 1, &pos, tok, tl, 3, &k));
	assert_int_equal(k, 2);
	assert_int_equal(tl[1], 1);
	assert_memory_equal(tok[1], "x", 1);
	assert_false(adm_next_tokens(text, sizeof(text) - 1, &pos, tok, tl, 3, &k));
	pos = 0;
	assert_false(adm_next_tokens(NULL, 0, &pos, tok, tl, 3, &k));
}

static void test_json(void **state)
{
	(void)state;
	struct adm_snap *s = snap();
	size_t len;
	char *j = adm_json_render(s, "members", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"view\":7"));
	assert_non_null(strstr(j, "\"alive\":2"));
	assert_non_null(strstr(j, "\"self\":\"n1\""));
	assert_non_null(strstr(j, "\"name\":\"n3\",\"id\":\"00000000-0000-4000-8000-000000000003\","
				  "\"address\":\"10.236.0.3:7700\",\"state\":\"dead\""));
	free(j);
	j = adm_json_render(s, "caches", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "{\"name\":\"plain\",\"mode\":\"distributed\",\"entries\":7,"
				  "\"hits\":9}"));
	assert_non_null(strstr(j, "{\"name\":\"we\\\"ird\\\\na.me\\ufffd\",\"mode\":\"local\","));
	free(j);
	j = adm_json_render(s, "topology", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"table\":[[0,1],[1,0],[0,1],[1,0]]"));
	free(j);
	j = adm_json_render(s, "daemons", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"name\":\"demo/counter\",\"mode\":\"singleton\","
				  "\"state\":\"running\",\"epoch\":4"));
	assert_non_null(strstr(j, "\"owner_name\":\"n2\""));
	free(j);
	j = adm_json_render(s, "jobs", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"last\":null"));
	assert_non_null(strstr(j, "\"fires\":12"));
	free(j);
	j = adm_json_render(s, "destinations", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "{\"name\":\"/queue/work\",\"role\":\"primary\",\"depth\":3,"));
	free(j);
	j = adm_json_render(s, "status", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "{\"node\":\"n1\",\"taken_unix_ms\":61000,\"status\":{"
				  "\"healthy\":true,\"reason\":\"ok\",\"clustered\":true,"));
	free(j);
	errno = 0;
	assert_null(adm_json_render(s, "nope", NOW, &len));
	assert_int_equal(errno, ENOENT);
	/* a part that could not be read is null */
	free(s->dests);
	s->dests = NULL;
	j = adm_json_render(s, "destinations", NOW, &len);
	assert_non_null(strstr(j, "\"destinations\":null}"));
	free(j);
	adm_snap_free(s);
}

static void test_history(void **state)
{
	(void)state;
	struct adm_snap *s = snap();
	struct adm_point p;
	assert_true(adm_point_of(s, &p));
	assert_int_equal(p.unix_ms, 61000);
	assert_int_equal(p.ops, 13);  /* total.req.get + total.req.put */
	assert_int_equal(p.depth, 3); /* primaries only */
	s->hist = calloc(2, sizeof(*s->hist));
	assert_non_null(s->hist);
	s->hist[0] = (struct adm_point){60000, 10, 1};
	s->hist[1] = p;
	s->n_hist = 2;
	size_t len;
	char *j = adm_json_render(s, "history", NOW, &len);
	assert_non_null(j);
	assert_non_null(strstr(j, "\"history\":{\"interval_ms\":1000,\"points\":"
				  "[[60000,10,1],[61000,13,3]]}"));
	free(j);
	free(s->stats);
	s->stats = NULL;
	assert_false(adm_point_of(s, &p));
	adm_snap_free(s);
}

static void test_health(void **state)
{
	(void)state;
	const char *why;
	assert_false(adm_health(NULL, NOW, &why));
	struct adm_snap *s = snap();
	assert_true(adm_health(s, NOW, &why));
	assert_string_equal(why, "ok");
	assert_false(adm_health(s, NOW + ADM_STALE_MS + 1, &why));
	s->dp_ok = false;
	assert_false(adm_health(s, NOW, &why));
	s->dp_ok = true;
	s->members->no_quorum = true;
	assert_false(adm_health(s, NOW, &why));
	assert_non_null(strstr(why, "quorum"));
	s->members->no_quorum = false;
	s->members->self = WEFT_DP_SELF_NONE;
	assert_false(adm_health(s, NOW, &why));
	s->clustered = false; /* a single node needs no view */
	assert_true(adm_health(s, NOW, &why));
	s->clustered = true;
	s->members->self = 2; /* dead in its own view */
	assert_false(adm_health(s, NOW, &why));
	s->members->self = 0;
	s->members->view = 0;
	assert_false(adm_health(s, NOW, &why));
	s->members->view = 7;
	assert_true(adm_health(s, NOW, &why));
	/* a graceful stop handing its segments over */
	static const char handoff[] = "rebalance.view 7\nrebalance.handoff 1\n";
	free(s->stats);
	s->stats = strdup(handoff);
	s->stats_len = strlen(handoff);
	assert_false(adm_health(s, NOW, &why));
	assert_non_null(strstr(why, "stopping"));
	adm_snap_free(s);
}

static int parse(struct weft_ctl_args *a, ...)
{
	char *argv[16] = {"weftd", "--port", "af_packet:x", "--bind", "10.1.2.3"};
	int argc = 5;
	va_list ap;
	va_start(ap, a);
	for (char *s; (s = va_arg(ap, char *)) != NULL && argc < 15;)
		argv[argc++] = s;
	va_end(ap);
	fflush(stderr);
	int saved = dup(2), null = open("/dev/null", O_WRONLY);
	dup2(null, 2);
	int rc = weft_ctl_args_parse(argc, argv, a);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(null);
	return rc;
}

static void test_admin_option(void **state)
{
	(void)state;
	struct weft_ctl_args a;
	assert_int_equal(parse(&a, NULL), 0);
	assert_int_equal(a.admin_ip, htonl(INADDR_LOOPBACK));
	assert_int_equal(a.admin_port, WEFT_CTL_ADMIN_PORT);
	assert_false(a.admin_explicit);
	assert_int_equal(parse(&a, "--admin", "10.236.1.11", "--offset", "3", NULL), 0);
	assert_int_equal(a.admin_port, WEFT_CTL_ADMIN_PORT + 3);
	assert_int_equal(a.admin_ip, htonl(0x0aec010bu));
	assert_true(a.admin_explicit);
	assert_int_equal(parse(&a, "--offset", "3", "--admin", "0.0.0.0:8080", NULL), 0);
	assert_int_equal(a.admin_port, 8080);
	assert_int_equal(a.admin_ip, 0);
	assert_int_equal(parse(&a, "--admin", "off", NULL), 0);
	assert_int_equal(a.admin_port, 0);
	assert_int_equal(parse(&a, "--admin", "1.2.3.4:0", NULL), -EINVAL);
	assert_int_equal(parse(&a, "--admin", "1.2.3.4:65536", NULL), -EINVAL);
	assert_int_equal(parse(&a, "--admin", "host:80", NULL), -EINVAL);
	assert_int_equal(parse(&a, "--admin", ":80", NULL), -EINVAL);
	/* the last --admin wins */
	assert_int_equal(parse(&a, "--admin", "off", "--admin", "127.0.0.2", NULL), 0);
	assert_int_equal(a.admin_port, WEFT_CTL_ADMIN_PORT);
	assert_int_equal(a.admin_ip, htonl(0x7f000002u));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prom_parses), cmocka_unit_test(test_prom_samples),
		cmocka_unit_test(test_escaping),   cmocka_unit_test(test_json),
		cmocka_unit_test(test_health),     cmocka_unit_test(test_admin_option),
		cmocka_unit_test(test_history),    cmocka_unit_test(test_line_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
