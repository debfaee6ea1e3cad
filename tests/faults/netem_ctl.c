/*
 * netem_ctl.c — weft-netem's control file: parsing it into a netem_conf
 * and acknowledging each generation (format in netem.h). A bad file is
 * refused as a whole: the caller keeps its previous settings.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "netem.h"

static int parse_block(struct netem_dir *d, char *list)
{
	for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		struct in_addr ia;
		if (d->n_block == NETEM_MAX_BLOCK || inet_pton(AF_INET, t, &ia) != 1)
			return -1;
		d->block[d->n_block++] = ia.s_addr;
	}
	return 0;
}

static int parse_prob(const char *v, double *out)
{
	char *end;
	errno = 0;
	double p = strtod(v, &end);
	if (errno || *end || end == v || p < 0 || p > 1)
		return -1;
	*out = p;
	return 0;
}

static int parse_ms(const char *v, uint32_t *us)
{
	char *end;
	errno = 0;
	unsigned long ms = strtoul(v, &end, 10);
	if (errno || *end || end == v || ms > 60000)
		return -1;
	*us = (uint32_t)ms * 1000u;
	return 0;
}

/* "key=value" fields of one direction line. */
static int parse_dir(struct netem_dir *d, char *rest)
{
	for (char *save = NULL, *t = strtok_r(rest, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		char *v = strchr(t, '=');
		if (v == NULL)
			return -1;
		*v++ = '\0';
		int rc;
		if (strcmp(t, "loss") == 0)
			rc = parse_prob(v, &d->loss);
		else if (strcmp(t, "dup") == 0)
			rc = parse_prob(v, &d->dup);
		else if (strcmp(t, "delay_ms") == 0)
			rc = parse_ms(v, &d->delay_us);
		else if (strcmp(t, "jitter_ms") == 0)
			rc = parse_ms(v, &d->jitter_us);
		else if (strcmp(t, "block") == 0)
			rc = parse_block(d, v);
		else
			rc = -1;
		if (rc != 0)
			return -1;
	}
	return 0;
}

int netem_ctl_read(const char *path, struct netem_conf *c, const char **why)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		*why = "cannot open the control file";
		return -1;
	}
	memset(c, 0, sizeof(*c));
	char line[1024];
	int rc = 0;
	for (unsigned n = 0; rc == 0 && fgets(line, sizeof(line), fp); n++) {
		line[strcspn(line, "\r\n")] = '\0';
		char *rest = line + strspn(line, " \t");
		if (*rest == '\0' || *rest == '#')
			continue;
		if (strncmp(rest, "gen ", 4) == 0) {
			char *end;
			c->gen = strtoull(rest + 4, &end, 10);
			if (*end != '\0') {
				*why = "bad gen line";
				rc = -1;
			}
		} else if (strncmp(rest, "a2b", 3) == 0 || strncmp(rest, "b2a", 3) == 0) {
			if (parse_dir(&c->dir[rest[0] == 'b'], rest + 3) != 0) {
				*why = "bad direction field";
				rc = -1;
			}
		} else {
			*why = "unknown line";
			rc = -1;
		}
		if (n > 64) {
			*why = "too many lines";
			rc = -1;
		}
	}
	fclose(fp);
	return rc;
}

void netem_ctl_applied(const char *path, uint64_t gen, const char *why)
{
	char tmp[4096], fin[4096];
	snprintf(tmp, sizeof(tmp), "%s.applied.tmp", path);
	snprintf(fin, sizeof(fin), "%s.applied", path);
	FILE *fp = fopen(tmp, "w");
	if (fp == NULL)
		return;
	if (why)
		fprintf(fp, "gen %llu error %s\n", (unsigned long long)gen, why);
	else
		fprintf(fp, "gen %llu ok\n", (unsigned long long)gen);
	if (fclose(fp) == 0)
		rename(tmp, fin);
}
