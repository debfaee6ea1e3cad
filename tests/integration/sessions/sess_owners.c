/*
 * sess_owners — which members own a web session, as the cluster routes it
 * (the sessions tests: sessions_web.sh, sessions_browser.sh).
 *
 *   sess_owners --server IP[:PORT] ID
 *
 * ID is the session id in 32 hex digits (the WEFTSESSION cookie). Fetches
 * the segment table from the node (libweft weft_topology) and prints
 *   OWNERS id=ID segment=S epoch=E primary=NAME backups=NAME[,NAME...]
 * where the key is the id's 16 bytes — the session store's entry key
 * (wire.h "Sessions") — and the owners are weft_topology_owner's, the
 * routing every client and node uses: the primary is the node that serves
 * the session's ops and decides its expiry. Exit 0; 2 on bad usage, a bad
 * id, or no table (the node does not answer, or has no owners yet).
 *
 * Invariants: read-only (one TOPOLOGY request, bounded by libweft's
 * attempts); prints one line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <weft/weft.h>

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* 32 hex digits -> 16 bytes; 0 or -1 (wrong length or a non-hex digit). */
static int parse_id(const char *hex, unsigned char id[WEFT_SESSION_ID_LEN])
{
	if (strlen(hex) != 2u * WEFT_SESSION_ID_LEN)
		return -1;
	for (unsigned i = 0; i < WEFT_SESSION_ID_LEN; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		id[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 || strcmp(argv[1], "--server") != 0) {
		fprintf(stderr, "usage: sess_owners --server IP[:PORT] ID\n");
		return 2;
	}
	unsigned char id[WEFT_SESSION_ID_LEN];
	if (parse_id(argv[3], id) != 0) {
		fprintf(stderr, "sess_owners: '%s' is not 32 hex digits\n", argv[3]);
		return 2;
	}
	weft_client *c = weft_client_connect(argv[2], NULL);
	if (c == NULL) {
		perror("sess_owners: connect");
		return 2;
	}
	struct weft_topology *t = NULL;
	int rc = weft_topology(c, &t);
	weft_client_close(c);
	if (rc != 0) {
		fprintf(stderr, "sess_owners: topology: %s\n", weft_strerror(rc));
		return 2;
	}
	if (t->owners == 0) {
		fprintf(stderr, "sess_owners: the node has no segment table yet\n");
		weft_topology_free(t);
		return 2;
	}
	printf("OWNERS id=%s segment=%u epoch=%u", argv[3],
	       weft_topology_segment(t, id, sizeof(id)), t->epoch);
	for (unsigned r = 0; r < t->owners; r++) {
		int m = weft_topology_owner(t, id, sizeof(id), r);
		const char *name = m >= 0 && t->members[m].name[0] ? t->members[m].name : "?";
		printf("%s%s", r == 0 ? " primary=" : r == 1 ? " backups=" : ",", name);
	}
	printf("\n");
	weft_topology_free(t);
	return 0;
}
