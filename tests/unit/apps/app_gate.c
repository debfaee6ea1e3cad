/*
 * app_gate.c — a test app for test_ctl_apps' shutdown tests: its init,
 * its listener's callback and its fini call hooks of the test program
 * (weak references, resolved against the host's exported symbols), so the
 * test can hold a load op inside init, or a listener inside its callback,
 * while the runtime shuts down, then release it and see what was undone.
 * In the probe (weft-app-check has no such hooks) nothing waits. Init
 * listens on /queue/apps_gate.
 */
#include <stddef.h>

#include <weft/app.h>

int weft_app_init(weft_app *app);
void weft_app_fini(weft_app *app);

/* Defined by test_ctl_apps.c; absent (NULL) in the probe. */
extern void test_ctl_apps_gate_init(weft_app *app) __attribute__((weak));
extern void test_ctl_apps_gate_msg(weft_app *app) __attribute__((weak));
extern void test_ctl_apps_gate_fini(weft_app *app) __attribute__((weak));

static int on_msg(void *ctx, const struct weft_message *m)
{
	(void)m;
	if (test_ctl_apps_gate_msg != NULL)
		test_ctl_apps_gate_msg(ctx);
	return 0;
}

int weft_app_init(weft_app *app)
{
	if (test_ctl_apps_gate_init != NULL)
		test_ctl_apps_gate_init(app);
	return weft_app_listen(app, "/queue/apps_gate", NULL, on_msg, app);
}

void weft_app_fini(weft_app *app)
{
	if (test_ctl_apps_gate_fini != NULL)
		test_ctl_apps_gate_fini(app);
}
