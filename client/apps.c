/*
 * libweft: APPS (wire.h WEFT_OP_APPS), the text a node's app runtime
 * published about its deployed apps, daemons and jobs. Not keyed: it goes
 * to the node the client talks to (c->home), routing on or off.
 *
 * Invariants: the response's payload is freed on every path; on success
 * *text is a NUL-terminated malloc'd copy (empty when the node runs no
 * app), on error nothing is allocated and the out-parameters are left
 * untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_internal.h"

int weft_apps(weft_client *c, char **text, size_t *len)
{
	if (c == NULL || text == NULL)
		return -WEFT_ST_INVALID_ARG;
	struct weft_msg m = { .opcode = WEFT_OP_APPS };
	struct weft_resp r;
	int rc = weft_call(c, &m, &r);
	if (rc < 0)
		return rc;
	if (r.status != WEFT_ST_OK) {
		free(r.payload);
		return -(int)r.status;
	}
	size_t n = r.msg_len - r.head_len;
	char *t = malloc(n + 1);
	if (t == NULL) {
		free(r.payload);
		c->last_errno = ENOMEM;
		return -WEFT_ST_IO;
	}
	if (n > 0)
		memcpy(t, r.payload + r.head_len, n);
	t[n] = '\0';
	free(r.payload);
	*text = t;
	if (len)
		*len = n;
	return 0;
}
