/* wipe_sanitize.h - inside the wipe engine: the backing filesystem of a
 * wiped volume and the record's "sanitization" object (wipe_sanitize.c). */
#ifndef SFS_WIPE_SANITIZE_H
#define SFS_WIPE_SANITIZE_H

#include <jansson.h>

#include "sfs_wipe.h"

/* Fills r->fstype, r->device and r->devno for r->backing from
 * /proc/self/mountinfo (left "" when not found). */
void sfs_wipe_media(struct sfs_wipe_report *r);

/* The fields of a certificate of sanitization (NIST SP 800-88 Rev. 1,
 * Appendix G) that apply: media, who, method and its NIST category, tool
 * and version, key source and the fate of each key copy (volume_key,
 * node_key and daemon are the record's own texts), verification, start
 * and end, and what a wipe does not cover. NULL when out of memory. */
json_t *sfs_wipe_sanitization(const struct sfs_wipe_report *r,
			      const char *volume_key, const char *node_key,
			      const char *daemon);

#endif
