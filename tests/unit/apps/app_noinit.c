/*
 * app_noinit.c — a test app without weft_app_init: refused.
 */
int not_an_app(void);
int not_an_app(void)
{
	return 0;
}
