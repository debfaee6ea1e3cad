/*
 * weftctl_topo.c — `weftctl topology [CACHE]`: prints a node's segment table
 * (libweft weft_topology) for an operator:
 *
 *   epoch E, N members, S segments, K owners per segment (primary first)
 *   one segment table serves every cache (CACHE included)
 *   IDX  NAME  ADDRESS  PRIMARY  BACKUP  NODE ID       (one row per member)
 *   SEGMENTS  OWNERS                                   (runs of equal owners)
 *
 * The output is a pure function of the table, so two nodes with the same
 * table print the same text (the cluster test compares them). --json:
 * weftctl_topo_json.c. Self-contained (libweft only): the fuzz target
 * fuzz_client_wire links it alone.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "weftctl_print.h"

void weftctl_id_text(const uint8_t id[16], char out[37])
{
	char *p = out;
	for (unsigned i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		snprintf(p, 3, "%02x", id[i]);
		p += 2;
	}
	*p = '\0';
}

static const char *member_name(const struct weft_topology *t, unsigned i, char buf[16])
{
	if (t->members[i].name[0])
		return t->members[i].name;
	snprintf(buf, 16, "#%u", i);
	return buf;
}

static void print_members(FILE *f, const struct weft_topology *t)
{
	uint32_t *prim = calloc(t->n_members, sizeof(*prim));
	uint32_t *back = calloc(t->n_members, sizeof(*back));
	for (size_t s = 0; prim && back && s < t->n_segments; s++)
		for (unsigned r = 0; r < t->owners; r++) {
			uint16_t m = t->owner[s * t->owners + r];
			if (r == 0)
				prim[m]++;
			else
				back[m]++;
		}
	int wn = 4;
	for (unsigned i = 0; i < t->n_members; i++)
		if ((int)strlen(t->members[i].name) > wn)
			wn = (int)strlen(t->members[i].name);
	fprintf(f, "%-4s %-*s %-21s %8s %8s  %s\n", "IDX", wn, "NAME", "ADDRESS", "PRIMARY",
		"BACKUP", "NODE ID");
	for (unsigned i = 0; i < t->n_members; i++) {
		const struct weft_topology_member *m = &t->members[i];
		char ip[INET_ADDRSTRLEN], addr[32], id[37], nb[16];
		inet_ntop(AF_INET, &m->ip, ip, sizeof(ip));
		snprintf(addr, sizeof(addr), "%s:%u", ip, m->port);
		weftctl_id_text(m->id, id);
		fprintf(f, "%-4u %-*s %-21s %8u %8u  %s\n", i, wn, member_name(t, i, nb), addr,
			prim && back ? prim[i] : 0, prim && back ? back[i] : 0, id);
	}
	free(prim);
	free(back);
}

bool weftctl_same_owners(const struct weft_topology *t, size_t a, size_t b)
{
	return memcmp(&t->owner[a * t->owners], &t->owner[b * t->owners],
		      t->owners * sizeof(uint16_t)) == 0;
}

int weftctl_print_topology(FILE *f, const struct weft_topology *t, const char *cache)
{
	fprintf(f, "epoch %u, %u member%s, %u segments, %u owner%s per segment (primary first)\n",
		t->epoch, t->n_members, t->n_members == 1 ? "" : "s", t->n_segments, t->owners,
		t->owners == 1 ? "" : "s");
	if (cache != NULL)
		fprintf(f, "one segment table serves every cache (%s included)\n", cache);
	else
		fprintf(f, "one segment table serves every cache\n");
	print_members(f, t);
	if (t->owners == 0) {
		fprintf(f, "no segment table yet\n");
		return fflush(f) == 0 ? 0 : 2;
	}
	fprintf(f, "%-11s %s\n", "SEGMENTS", "OWNERS");
	for (size_t s = 0; s < t->n_segments;) {
		size_t e = s + 1;
		while (e < t->n_segments && weftctl_same_owners(t, s, e))
			e++;
		char range[24], nb[16];
		if (e - s == 1)
			snprintf(range, sizeof(range), "%zu", s);
		else
			snprintf(range, sizeof(range), "%zu-%zu", s, e - 1);
		fprintf(f, "%-11s", range);
		for (unsigned r = 0; r < t->owners; r++)
			fprintf(f, " %s", member_name(t, t->owner[s * t->owners + r], nb));
		fputc('\n', f);
		s = e;
	}
	return fflush(f) == 0 ? 0 : 2;
}
