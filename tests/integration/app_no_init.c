/*
 * app_no_init.c — a bad app for apps_walkthrough.sh: a shared object that
 * exports no weft_app_init (only a misspelt weft_app_start), so weftd must
 * refuse it with a clear log line and keep serving.
 */
int weft_app_start(void *app);

int weft_app_start(void *app)
{
	return app == 0;
}
