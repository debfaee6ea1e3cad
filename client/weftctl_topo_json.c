/*
 * weftctl_topo_json.c — `weftctl topology --json`: the segment table as one
 * object {epoch, n_segments, owners, members: [{index, name, address,
 * primary, backup, node_id}], runs: [{first, last, owners: [member
 * index, primary first]}]} (runs: consecutive segments with the same
 * owners, as the text table prints them; no runs before the node has a
 * table, owners 0). A pure function of the table.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "weftctl_json.h"
#include "weftctl_print.h"

int weftctl_print_topology_json(FILE *f, const struct weft_topology *t)
{
	struct weftctl_json j;
	uint32_t *prim = calloc(t->n_members + 1u, sizeof(*prim));
	uint32_t *back = calloc(t->n_members + 1u, sizeof(*back));
	if (prim == NULL || back == NULL) {
		free(prim);
		free(back);
		fprintf(stderr, "weftctl: out of memory\n");
		return 2;
	}
	for (size_t s = 0; s < t->n_segments && t->owners; s++)
		for (unsigned r = 0; r < t->owners; r++)
			(r == 0 ? prim : back)[t->owner[s * t->owners + r]]++;
	weftctl_json_init(&j, f);
	weftctl_json_obj_begin(&j);
	weftctl_json_kv_u64(&j, "epoch", t->epoch);
	weftctl_json_kv_u64(&j, "n_segments", t->n_segments);
	weftctl_json_kv_u64(&j, "owners", t->owners);
	weftctl_json_key(&j, "members");
	weftctl_json_arr_begin(&j);
	for (unsigned i = 0; i < t->n_members; i++) {
		const struct weft_topology_member *m = &t->members[i];
		char ip[INET_ADDRSTRLEN], addr[32], id[37];
		inet_ntop(AF_INET, &m->ip, ip, sizeof(ip));
		snprintf(addr, sizeof(addr), "%s:%u", ip, m->port);
		weftctl_id_text(m->id, id);
		weftctl_json_obj_begin(&j);
		weftctl_json_kv_u64(&j, "index", i);
		weftctl_json_kv_str(&j, "name", m->name);
		weftctl_json_kv_str(&j, "address", addr);
		weftctl_json_kv_u64(&j, "primary", prim[i]);
		weftctl_json_kv_u64(&j, "backup", back[i]);
		weftctl_json_kv_str(&j, "node_id", id);
		weftctl_json_obj_end(&j);
	}
	weftctl_json_arr_end(&j);
	weftctl_json_key(&j, "runs");
	weftctl_json_arr_begin(&j);
	for (size_t s = 0; t->owners && s < t->n_segments;) {
		size_t e = s + 1;
		while (e < t->n_segments && weftctl_same_owners(t, s, e))
			e++;
		weftctl_json_obj_begin(&j);
		weftctl_json_kv_u64(&j, "first", s);
		weftctl_json_kv_u64(&j, "last", e - 1);
		weftctl_json_key(&j, "owners");
		weftctl_json_arr_begin(&j);
		for (unsigned r = 0; r < t->owners; r++)
			weftctl_json_u64(&j, t->owner[s * t->owners + r]);
		weftctl_json_arr_end(&j);
		weftctl_json_obj_end(&j);
		s = e;
	}
	weftctl_json_arr_end(&j);
	weftctl_json_obj_end(&j);
	free(prim);
	free(back);
	return weftctl_json_finish(&j) == 0 ? 0 : 2;
}
