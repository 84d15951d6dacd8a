/* plugin_refs.c - mount reference counts per (volume, mount ID), with the
 * epoch rule that reclaims references a crashed engine leaked. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfs_plugin.h"

static struct sfs_plugin_ref *find(const struct sfs_plugin_refs *r,
				   const char *id)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].id, id))
			return &r->v[i];
	return NULL;
}

/* Removes entry i, keeping the order of the others (the state file and
 * the logs read better that way; the arrays are tiny). */
static void remove_at(struct sfs_plugin_refs *r, size_t i)
{
	free(r->v[i].id);
	memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(r->v[0]));
	r->n--;
}

static int append(struct sfs_plugin_refs *r, const char *id, uint64_t count,
		  uint64_t epoch)
{
	char *copy;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct sfs_plugin_ref *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	copy = strdup(id);
	if (!copy)
		return -ENOMEM;
	r->v[r->n++] = (struct sfs_plugin_ref){copy, count, epoch};
	return 0;
}

int64_t sfs_plugin_refs_mount(struct sfs_plugin_refs *r, const char *id,
			      uint64_t epoch, bool reset_old)
{
	struct sfs_plugin_ref *e = find(r, id);
	int rc;

	if (!e) {
		rc = append(r, id, 1, epoch);
		return rc ? rc : 1;
	}
	if (reset_old && e->epoch < epoch)
		e->count = 1; /* re-mounted by a restarted engine */
	else
		e->count++;
	e->epoch = epoch;
	return (int64_t)e->count;
}

int64_t sfs_plugin_refs_unmount(struct sfs_plugin_refs *r, const char *id)
{
	struct sfs_plugin_ref *e = find(r, id);

	if (!e)
		return -ENOENT;
	if (--e->count > 0)
		return (int64_t)e->count;
	remove_at(r, (size_t)(e - r->v));
	return 0;
}

uint64_t sfs_plugin_refs_total(const struct sfs_plugin_refs *r)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < r->n; i++)
		sum += r->v[i].count;
	return sum;
}

uint64_t sfs_plugin_refs_since(const struct sfs_plugin_refs *r, uint64_t epoch)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].epoch >= epoch)
			sum += r->v[i].count;
	return sum;
}

uint64_t sfs_plugin_refs_drop_before(struct sfs_plugin_refs *r, uint64_t epoch)
{
	uint64_t dropped = 0;
	size_t i = 0;

	while (i < r->n) {
		if (r->v[i].epoch < epoch) {
			dropped += r->v[i].count;
			remove_at(r, i);
		} else {
			i++;
		}
	}
	return dropped;
}

int sfs_plugin_refs_set(struct sfs_plugin_refs *r, const char *id,
			uint64_t count, uint64_t epoch)
{
	if (count == 0 || find(r, id))
		return -EINVAL;
	return append(r, id, count, epoch);
}

void sfs_plugin_refs_clear(struct sfs_plugin_refs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].id);
	free(r->v);
	*r = (struct sfs_plugin_refs){0};
}
