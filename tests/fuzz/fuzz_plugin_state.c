/* fuzz_plugin_state.c - the volume plugin's state file (<root>/state.json):
 * sfs_plugin_state_parse over the input as the file's text. A state that
 * loads is saved (to a temporary file) and loaded again.
 *
 * Properties: a refusal names the file and leaves no volumes behind; what
 * loads has valid names and references, and survives a save and a load
 * unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sfs_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same(const struct sfs_plugin_state *a,
		 const struct sfs_plugin_state *b)
{
	FUZZ_CHECK(a->epoch == b->epoch && a->n == b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct sfs_plugin_vol *x = a->vols[i], *y = b->vols[i];

		FUZZ_CHECK(strcmp(x->name, y->name) == 0);
		FUZZ_CHECK(memcmp(&x->opts, &y->opts, sizeof(x->opts)) == 0);
		FUZZ_CHECK(x->created == y->created &&
			   x->mounted == y->mounted);
		FUZZ_CHECK(strcmp(x->cipher, y->cipher) == 0);
		FUZZ_CHECK(x->refs.n == y->refs.n);
		for (size_t j = 0; j < x->refs.n; j++) {
			FUZZ_CHECK(strcmp(x->refs.v[j].id, y->refs.v[j].id) ==
				   0);
			FUZZ_CHECK(x->refs.v[j].count == y->refs.v[j].count);
			FUZZ_CHECK(x->refs.v[j].epoch == y->refs.v[j].epoch);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	struct sfs_plugin_state s = {0}, again = {0};
	char path[128], err[1024] = "";
	int rc;

	if (!dir[0]) {
		const char *tmp = getenv("SFS_FUZZ_TMP");

		snprintf(dir, sizeof(dir), "%s/sfs-fuzz-state.XXXXXX",
			 tmp				 ? tmp
			 : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
							 : "/tmp");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/state.json", dir);
	rc = sfs_plugin_state_parse(&s, path, (const char *)data, size, err,
				    sizeof(err));
	if (rc != 0) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(strstr(err, path) == err);
		FUZZ_CHECK(s.n == 0);
		sfs_plugin_state_free(&s);
		return 0;
	}
	for (size_t i = 0; i < s.n; i++) {
		FUZZ_CHECK(sfs_plugin_name_ok(s.vols[i]->name));
		for (size_t j = 0; j < s.vols[i]->refs.n; j++) {
			FUZZ_CHECK(sfs_plugin_id_ok(s.vols[i]->refs.v[j].id));
			FUZZ_CHECK(s.vols[i]->refs.v[j].count >= 1);
			FUZZ_CHECK(s.vols[i]->refs.v[j].epoch <= s.epoch);
		}
	}
	FUZZ_CHECK(sfs_plugin_state_save(&s, err, sizeof(err)) == 0);
	FUZZ_CHECK(sfs_plugin_state_load(&again, path, err, sizeof(err)) == 0);
	same(&s, &again);
	sfs_plugin_state_free(&s);
	sfs_plugin_state_free(&again);
	unlink(path);
	return 0;
}
