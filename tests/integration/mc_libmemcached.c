/*
 * mc_libmemcached.c — a libmemcached client in UDP mode for memcached.sh
 * (Debian's libmemcached-dev; nothing of weft is linked): sets or deletes
 * N keys PREFIX-0 .. PREFIX-(N-1) on one server with
 * MEMCACHED_BEHAVIOR_USE_UDP. libmemcached sends UDP writes without
 * waiting for an answer (it sets noreply itself) and does not support get
 * over UDP, so this program only writes; memcached.sh checks the effect
 * with gets.
 *
 *   mc_libmemcached HOST PORT set|delete N PREFIX
 *
 * Exit 0 when every call returned success, 1 otherwise (the failing call
 * and libmemcached's error are printed), 2 for bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmemcached/memcached.h>

int main(int argc, char **argv)
{
	if (argc != 6 || (strcmp(argv[3], "set") != 0 && strcmp(argv[3], "delete") != 0)) {
		fprintf(stderr, "usage: mc_libmemcached HOST PORT set|delete N PREFIX\n");
		return 2;
	}
	int n = atoi(argv[4]);
	memcached_st *mc = memcached_create(NULL);
	if (mc == NULL || n <= 0)
		return 2;
	memcached_return_t rc = memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_USE_UDP, 1);
	if (rc == MEMCACHED_SUCCESS)
		rc = memcached_server_add(mc, argv[1], (in_port_t)atoi(argv[2])); /* UDP: the behavior */
	if (rc != MEMCACHED_SUCCESS) {
		fprintf(stderr, "setup: %s\n", memcached_strerror(mc, rc));
		memcached_free(mc);
		return 1;
	}
	int failed = 0;
	for (int i = 0; i < n; i++) {
		char key[128], val[128];
		snprintf(key, sizeof(key), "%s-%d", argv[5], i);
		snprintf(val, sizeof(val), "value-%d-of-%s", i, argv[5]);
		if (strcmp(argv[3], "set") == 0)
			rc = memcached_set(mc, key, strlen(key), val, strlen(val), 0, (uint32_t)i);
		else
			rc = memcached_delete(mc, key, strlen(key), 0);
		if (rc != MEMCACHED_SUCCESS) {
			fprintf(stderr, "%s %s: %s\n", argv[3], key, memcached_strerror(mc, rc));
			failed++;
		}
	}
	memcached_free(mc);
	printf("%s: %d of %d calls succeeded\n", argv[3], n - failed, n);
	return failed ? 1 : 0;
}
