/*
 * weftctl_sessions.c — weftctl's session commands (docs/sessions.md; the
 * API is weft.h "Sessions"):
 *
 *   session ID [--store S]        one session: created, idle time, timeout,
 *                                 attribute count and bytes, every attribute
 *                                 (name, size, value: text when printable,
 *                                 else the first bytes in hex). NOT an
 *                                 access: the header comes from INFO and
 *                                 the attributes from a plain GET of the
 *                                 raw record (wire.h: GET on a session store
 *                                 returns it), neither of which the session
 *                                 layer counts; so looking at a session
 *                                 never keeps it alive.
 *   session-create [--max-inactive S]   prints the new id (32 hex digits)
 *   session-set ID NAME VALUE     VALUE '-' reads stdin (binary-safe)
 *   session-get ID NAME           the attribute's bytes to stdout (an access)
 *   session-remove ID NAME
 *   session-touch ID [--max-inactive S]
 *   session-invalidate ID
 *   session-events [--count N] [--wait S]   prints "EVENT ID" per event of
 *                                 the store until N events or S seconds
 *   sessions, lb-config nginx     weftctl_sessions_view.c
 *
 * Every command takes --store S ("weft.sessions" or "weft.sessions.<x>").
 * Exit status: 0 ok; 1 NO_SESSION or NOT_FOUND; 2 other errors.
 *
 * Invariants: the raw record is decoded with every length checked against
 * the bytes received (a malformed record is reported, never overread);
 * printing escapes nothing but shows only printable ASCII as text.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <weft/weft.h>

#include "weftctl_cli.h"
#include "weftctl_sessions.h"

#define VALUE_SHOW 64u /* bytes of a value shown */

static const char *const commands[] = {
	"sessions", "session", "session-create", "session-set", "session-get", "session-remove",
	"session-touch", "session-invalidate", "session-events", "lb-config",
};

/* Every weftctl option that takes a value, to find the command word. */
static const char *const valued[] = {
	"-s", "--server", "--timeout", "--ttl", "--prop", "--count", "--durable", "--max",
	"--max-depth", "--max-deliveries", "--visibility", "--max-bytes", "--max-idle",
	"--max-entries", "--mode", "--store", "--max-inactive", "--port", "--upstream", "--wait",
};

void weftctl_sessions_usage(FILE *f)
{
	fprintf(f,
		"\n"
		"sessions (docs/sessions.md; all take --store S, default weft.sessions):\n"
		"  sessions                             session count and memory per store on the\n"
		"                                       -s node and in the whole cluster\n"
		"  session ID                           one session: created, idle, timeout,\n"
		"                                       attributes (not counted as an access)\n"
		"  session-create [--max-inactive S]    create one, print its id\n"
		"  session-set ID NAME VALUE            set an attribute (VALUE '-': stdin)\n"
		"  session-get ID NAME                  an attribute's bytes to stdout\n"
		"  session-remove ID NAME               remove an attribute\n"
		"  session-touch ID [--max-inactive S]  an access (and a new timeout)\n"
		"  session-invalidate ID                end the session everywhere\n"
		"  session-events [--count N] [--wait S]  print \"EVENT ID\" per session event\n"
		"  lb-config nginx [--port P] [--upstream NAME]\n"
		"                                       an nginx upstream block with the alive\n"
		"                                       members' IPs at port P (default 8080)\n");
}

const char *weftctl_sessions_command(int argc, char **argv)
{
	return weftctl_find_command(argc, argv, valued, sizeof(valued) / sizeof(valued[0]),
				    commands, sizeof(commands) / sizeof(commands[0]));
}

static void parse(int argc, char **argv, struct scli *o)
{
	bool opts_done = false;
	o->server = getenv("WEFT_SERVER") ? getenv("WEFT_SERVER") : "127.0.0.1";
	o->port = 8080;
	o->upstream = "weft_web";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts_done || weftctl_positional(a)) {
			if (o->cmd == NULL)
				o->cmd = a;
			else if (o->argc < (int)(sizeof(o->argv) / sizeof(o->argv[0])))
				o->argv[o->argc++] = a;
			else
				weftctl_die_usage("too many arguments", NULL);
			continue;
		}
		if (strcmp(a, "--") == 0) {
			opts_done = true;
			continue;
		}
		if (strcmp(a, "--direct") == 0) {
			o->direct = true;
			continue;
		}
		if (i + 1 >= argc)
			weftctl_die_usage("option needs a value (or is unknown)", a);
		const char *v = argv[++i];
		if (strcmp(a, "-s") == 0 || strcmp(a, "--server") == 0)
			o->server = v;
		else if (strcmp(a, "--timeout") == 0)
			o->attempt_ms = (uint32_t)weftctl_parse_num(v, "bad --timeout (ms)", UINT32_MAX);
		else if (strcmp(a, "--store") == 0)
			o->store = v;
		else if (strcmp(a, "--max-inactive") == 0)
			o->max_inactive_s = (uint32_t)weftctl_parse_num(v, "bad --max-inactive (seconds)",
								WEFT_SESSION_MAX_MAX_INACTIVE_S);
		else if (strcmp(a, "--port") == 0)
			o->port = (unsigned)weftctl_parse_num(v, "bad --port", 65535);
		else if (strcmp(a, "--upstream") == 0)
			o->upstream = v;
		else if (strcmp(a, "--count") == 0)
			o->count = weftctl_parse_num(v, "bad --count", UINT32_MAX);
		else if (strcmp(a, "--wait") == 0)
			o->wait_ms = weftctl_parse_num(v, "bad --wait (seconds)", 86400u * 365u) * 1000u;
		else
			weftctl_die_usage("unknown option for this command", a);
	}
	if (o->cmd == NULL)
		weftctl_die_usage("no command", NULL);
}

int weftctl_sessions_fail(const char *node, const char *what, weft_client *c, int rc)
{
	return weftctl_fail(node, what, c, rc);
}

static void need_args(const struct scli *o, int min, int max)
{
	if (o->argc < min || o->argc > max)
		weftctl_die_usage("wrong number of arguments for", o->cmd);
}

static struct weft_session_id id_arg(const char *hex)
{
	struct weft_session_id id;
	if (weft_session_id_parse(hex, &id) != 0)
		weftctl_die_usage("bad session id (32 hex digits, not all zero)", hex);
	return id;
}

/* --- session ID ------------------------------------------------------------- */

static void fmt_unix_ms(uint64_t ms, char *out, size_t cap)
{
	time_t s = (time_t)(ms / 1000u);
	struct tm tm;
	if (ms == 0 || gmtime_r(&s, &tm) == NULL) {
		snprintf(out, cap, "-");
		return;
	}
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, cap - n, ".%03uZ", (unsigned)(ms % 1000u));
}

static void print_value(const uint8_t *v, uint32_t len)
{
	bool text = true;
	for (uint32_t i = 0; i < len && text; i++)
		text = v[i] >= 0x20 && v[i] < 0x7f;
	uint32_t shown = len < VALUE_SHOW ? len : VALUE_SHOW;
	if (text) {
		printf("\"%.*s\"%s\n", (int)shown, (const char *)v, shown < len ? "..." : "");
		return;
	}
	printf("hex ");
	for (uint32_t i = 0; i < shown && i < VALUE_SHOW / 2; i++)
		printf("%02x", v[i]);
	printf("%s\n", len > VALUE_SHOW / 2 ? "..." : "");
}

/* Prints the attributes of a raw record (wire.h weft_session_record_hdr
 * and attributes). 0, or 2 when it is malformed (reported). */
static int print_record(const uint8_t *p, size_t len)
{
	struct weft_session_record_hdr h;
	if (len < sizeof(h)) {
		fprintf(stderr, "weftctl: session: the record is truncated\n");
		return 2;
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic != WEFT_SESSION_RECORD_MAGIC) {
		fprintf(stderr, "weftctl: session: the entry is not a session record\n");
		return 2;
	}
	size_t off = sizeof(h);
	if (h.attrs > 0)
		printf("  %-32s %10s  %s\n", "NAME", "SIZE", "VALUE");
	for (uint32_t i = 0; i < h.attrs; i++) {
		struct weft_session_attr_hdr a;
		if (len - off < sizeof(a))
			break;
		memcpy(&a, p + off, sizeof(a));
		off += sizeof(a);
		if (a.name_len == 0 || len - off < a.name_len ||
		    len - off - a.name_len < a.value_len) {
			off = len + 1; /* malformed */
			break;
		}
		printf("  %-32.*s %10" PRIu32 "  ", (int)a.name_len, (const char *)(p + off),
		       a.value_len);
		off += a.name_len;
		print_value(p + off, a.value_len);
		off += a.value_len;
	}
	if (off != len) {
		fprintf(stderr, "weftctl: session: the record is malformed\n");
		return 2;
	}
	return 0;
}

static int cmd_session(const struct scli *o, weft_client *c)
{
	need_args(o, 1, 1);
	struct weft_session_id id = id_arg(o->argv[0]);
	struct weft_session_info si;
	int rc = weft_session_info(c, o->store, &id, &si);
	if (rc < 0)
		return weftctl_sessions_fail(o->server, "session", c, rc);
	char hex[WEFT_SESSION_HEX_LEN + 1], created[40], access[40];
	weft_session_id_hex(&id, hex);
	fmt_unix_ms(si.created_ms, created, sizeof(created));
	fmt_unix_ms(si.access_ms, access, sizeof(access));
	printf("session %s in %s\n", hex, o->store ? o->store : WEFT_SESSION_STORE);
	printf("created       %s\n", created);
	printf("last access   %s (as the owners know it: within the slack of the truth)\n",
	       access);
	printf("idle          %.1f s of %" PRIu32 " s (max-inactive)\n", (double)si.idle_ms / 1e3,
	       si.max_inactive_s);
	printf("attributes    %" PRIu32 ", %" PRIu32 " bytes\n", si.attrs, si.bytes);
	/* The attributes, from the raw record: not an access. */
	void *rec = NULL;
	size_t len = 0;
	rc = weft_get(c, o->store ? o->store : WEFT_SESSION_STORE, id.b, sizeof(id.b), &rec, &len,
		      NULL);
	if (rc < 0) {
		fprintf(stderr, "weftctl: session: reading the record: %s (the session may have "
				"just ended)\n", weft_status_name(rc));
		return rc == -WEFT_ST_NOT_FOUND ? 1 : 2;
	}
	int prc = print_record(rec, len);
	free(rec);
	return prc != 0 ? prc : (fflush(stdout) == 0 ? 0 : 2);
}

/* --- the small commands ------------------------------------------------------ */

static int on_event(void *ctx, enum weft_session_event ev, const struct weft_session_id *id)
{
	uint64_t *left = ctx;
	char hex[WEFT_SESSION_HEX_LEN + 1];
	weft_session_id_hex(id, hex);
	printf("%s %s\n", weft_session_event_name(ev), hex);
	fflush(stdout);
	return *left != 0 && --*left == 0 ? -1 : 0;
}

static int cmd_small(const struct scli *o, weft_client *c)
{
	const char *cmd = o->cmd;
	int rc;
	if (strcmp(cmd, "session-create") == 0) {
		need_args(o, 0, 0);
		struct weft_session_id id;
		rc = weft_session_create(c, o->store, o->max_inactive_s, &id);
		if (rc == 0) {
			char hex[WEFT_SESSION_HEX_LEN + 1];
			weft_session_id_hex(&id, hex);
			printf("%s\n", hex);
		}
	} else if (strcmp(cmd, "session-set") == 0) {
		need_args(o, 3, 3);
		struct weft_session_id id = id_arg(o->argv[0]);
		size_t vl;
		void *owned = NULL;
		const void *v = o->argv[2];
		if (strcmp(o->argv[2], "-") == 0)
			v = owned = weftctl_read_stdin(&vl);
		else
			vl = strlen(o->argv[2]);
		rc = weft_session_set(c, o->store, &id, o->argv[1], v, vl);
		free(owned);
	} else if (strcmp(cmd, "session-get") == 0) {
		need_args(o, 2, 2);
		struct weft_session_id id = id_arg(o->argv[0]);
		void *v = NULL;
		size_t vl = 0;
		rc = weft_session_get(c, o->store, &id, o->argv[1], &v, &vl, NULL);
		if (rc == 0 && vl > 0 && fwrite(v, 1, vl, stdout) != vl)
			rc = -WEFT_ST_IO;
		free(v);
	} else if (strcmp(cmd, "session-remove") == 0) {
		need_args(o, 2, 2);
		struct weft_session_id id = id_arg(o->argv[0]);
		rc = weft_session_remove(c, o->store, &id, o->argv[1]);
	} else if (strcmp(cmd, "session-touch") == 0) {
		need_args(o, 1, 1);
		struct weft_session_id id = id_arg(o->argv[0]);
		rc = weft_session_touch(c, o->store, &id, o->max_inactive_s);
	} else if (strcmp(cmd, "session-invalidate") == 0) {
		need_args(o, 1, 1);
		struct weft_session_id id = id_arg(o->argv[0]);
		rc = weft_session_invalidate(c, o->store, &id);
	} else { /* session-events */
		need_args(o, 0, 0);
		uint64_t left = o->count;
		rc = weft_session_listen(c, o->store, on_event, &left, o->wait_ms);
	}
	if (rc < 0)
		return weftctl_sessions_fail(o->server, cmd, c, rc);
	return fflush(stdout) == 0 ? 0 : 2;
}

int weftctl_sessions_main(int argc, char **argv, bool json)
{
	struct scli o = { .json = json };
	parse(argc, argv, &o);
	if (json && strcmp(o.cmd, "sessions") != 0)
		weftctl_die_usage("--json is for listings, not", o.cmd);
	if (o.store != NULL && !weft_wire_is_session_store(o.store, strlen(o.store)))
		weftctl_die_usage("bad --store (weft.sessions or weft.sessions.<name>)", o.store);
	struct weft_client_opts co;
	weft_client_opts_init(&co);
	if (o.attempt_ms)
		co.timeout_ms = o.attempt_ms;
	weft_client *c = weft_client_connect(o.server, &co);
	if (c == NULL)
		return weftctl_connect_failed(o.server);
	weft_client_set_routing(c, !o.direct);
	int rc;
	if (strcmp(o.cmd, "sessions") == 0)
		rc = weftctl_sessions_stats(&o, c);
	else if (strcmp(o.cmd, "lb-config") == 0)
		rc = weftctl_lb_config(&o, c);
	else if (strcmp(o.cmd, "session") == 0)
		rc = cmd_session(&o, c);
	else
		rc = cmd_small(&o, c);
	weft_client_close(c);
	return rc;
}
