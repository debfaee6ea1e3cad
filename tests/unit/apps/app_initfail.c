/*
 * app_initfail.c — a test app whose init returns -1: refused.
 */
#include <weft/app.h>

int weft_app_init(weft_app *app);
int weft_app_init(weft_app *app)
{
	(void)app;
	return -1;
}
