/*
 * app_good.c — a test app for test_ctl_apps: init writes "init" =
 * APP_VERSION to cache apps_test through its in-node client and listens to
 * /queue/apps_in; each message's body goes to key "got" and is published
 * again to /queue/apps_out (weft_app_publish); fini writes "fini" =
 * APP_VERSION. Built twice (v1, v2) to test a redeploy.
 */
#include <string.h>

#include <weft/app.h>

#ifndef APP_VERSION
#define APP_VERSION "v1"
#endif

int weft_app_init(weft_app *app);
void weft_app_fini(weft_app *app);

static void put(weft_app *app, const char *key, const void *val, size_t len)
{
	weft_put(weft_app_client(app), "apps_test", key, strlen(key), val, len, NULL, NULL);
}

static int on_msg(void *ctx, const struct weft_message *m)
{
	weft_app *app = ctx;
	put(app, "got", m->body, m->body_len);
	weft_app_publish(app, "/queue/apps_out", m->body, m->body_len, NULL);
	return 0;
}

int weft_app_init(weft_app *app)
{
	put(app, "init", APP_VERSION, strlen(APP_VERSION));
	put(app, "name", weft_app_name(app), strlen(weft_app_name(app)));
	return weft_app_listen(app, "/queue/apps_in", NULL, on_msg, app);
}

void weft_app_fini(weft_app *app)
{
	put(app, "fini", APP_VERSION, strlen(APP_VERSION));
}
