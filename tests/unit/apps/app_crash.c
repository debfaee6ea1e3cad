/*
 * app_crash.c — a test app that crashes in init (SIGSEGV): the probe
 * catches it and the node refuses the app without loading it.
 */
#include <signal.h>

#include <weft/app.h>

int weft_app_init(weft_app *app);
int weft_app_init(weft_app *app)
{
	(void)app;
	raise(SIGSEGV);
	return 0;
}
