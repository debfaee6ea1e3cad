/*
 * fuzz_swim.c — fuzz target for the membership state machine's decoder and
 * receive path: every datagram a stranger can send to the cluster port goes
 * through weft_swim_recv. The input is a sequence of records
 * [u8 sender][u8 ticks][u16 length][bytes]: each is delivered from one of 4
 * addresses to a node that has formed a one-node cluster, after advancing
 * virtual time by ticks * 50 ms and firing the timer when due, so
 * the fuzzer reaches states (suspects, views, joins) beyond one message.
 *
 * Invariants checked: nothing the node sends exceeds WEFT_SWIM_MSG_MAX; the
 * view, when there is one, has 1..max_members members; the state machine
 * never asks for a deadline in the past after a tick.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "membership.h"

static void on_send(void *ctx, const struct weft_swim_addr *to, const void *buf, size_t len)
{
	(void)ctx;
	(void)to;
	(void)buf;
	if (len > WEFT_SWIM_MSG_MAX)
		abort();
}

static void on_event(void *ctx, const struct weft_swim_event *ev)
{
	(void)ctx;
	if (ev->kind == WEFT_SWIM_EV_VIEW && (ev->n_view == 0 || ev->view == NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct weft_swim_config cfg;
	weft_swim_config_default(&cfg);
	memset(cfg.id.b, 0x11, sizeof(cfg.id.b));
	cfg.nonce = 1;
	cfg.addr = (struct weft_swim_addr){0x0a000001u, 7701};
	cfg.seed = 42;
	cfg.max_members = 8;
	uint64_t now = 1000;
	struct weft_swim *s = weft_swim_create(&cfg, now);
	if (s == NULL)
		return 0;
	const struct weft_swim_sink sink = {NULL, on_send, on_event};
	weft_swim_join(s, now, NULL, 0, &sink);
	while (size >= 4) {
		struct weft_swim_addr from = {0x0a000002u + (data[0] & 3u), 7701};
		now += (uint64_t)data[1] * 50;
		uint16_t len;
		memcpy(&len, data + 2, 2);
		data += 4;
		size -= 4;
		if (len > size)
			len = (uint16_t)size;
		if (weft_swim_next_deadline(s) <= now) {
			weft_swim_tick(s, now, &sink);
			if (weft_swim_next_deadline(s) <= now)
				abort();
		}
		weft_swim_recv(s, now, &from, data, len, &sink);
		data += len;
		size -= len;
	}
	struct weft_swim_view_id vid;
	uint32_t n = 0;
	if (weft_swim_view(s, &vid, &n) != NULL && (n == 0 || n > cfg.max_members))
		abort();
	weft_swim_destroy(s);
	return 0;
}
