/* fuzz_plugin_api.c - the volume plugin's request handling: path + body in,
 * JSON answer out (sfs_plugin_handle, what plugin_http.c calls for every
 * request). One input is a session of up to 8 requests separated by NUL
 * bytes, each "PATH\nBODY", against a fresh plugin whose root is a new
 * temporary directory (removed afterwards). The scratchfs binary it would
 * start is /nonexistent/scratchfs, so Mount fails without mounting.
 *
 * Properties: every request gets an answer with status 200, 400, 404 or
 * 500 that serialises, errors carry a non-empty "Err"; the state file the
 * plugin wrote loads again.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "sfs_log.h"
#include "sfs_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_REQUESTS 8

static char base[64];

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(const char *dir)
{
	/* Only ever what this harness made under its own mkdtemp(). */
	if (strncmp(dir, base, strlen(base)) != 0)
		abort();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void check_answer(json_t *ans, unsigned int status)
{
	json_t *e;
	char *text;

	FUZZ_CHECK(ans != NULL);
	FUZZ_CHECK(status == 200 || status == 400 || status == 404 ||
		   status == 500);
	text = json_dumps(ans, JSON_COMPACT);
	FUZZ_CHECK(text != NULL);
	free(text);
	e = json_object_get(ans, "Err");
	if (status != 200)
		FUZZ_CHECK(json_is_string(e) && json_string_length(e) > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sfs_plugin_cfg cfg = {
	    .scratchfs = "/nonexistent/scratchfs",
	    .encrypted_default = true,
	    .key_default = SFS_KEY_EPHEMERAL,
	    .mount_timeout_s = 1,
	};
	struct sfs_plugin_state again = {0};
	char root[128], state[160], err[1024];
	struct sfs_plugin p;
	const uint8_t *req = data, *end = data + size;

	if (!base[0]) {
		const char *tmp = getenv("SFS_FUZZ_TMP");

		snprintf(base, sizeof(base), "%s/sfs-fuzz-plugin.XXXXXX",
			 tmp				 ? tmp
			 : access("/dev/shm", W_OK) == 0 ? "/dev/shm"
							 : "/tmp");
		if (!mkdtemp(base))
			abort();
		sfs_log_init("fuzz_plugin_api", false);
	}
	snprintf(root, sizeof(root), "%s/root", base);
	cfg.root = root;
	if (sfs_plugin_open(&p, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "sfs_plugin_open: %s\n", err);
		abort();
	}
	for (int i = 0; i < MAX_REQUESTS && req < end; i++) {
		const uint8_t *stop = memchr(req, '\0', (size_t)(end - req));
		const uint8_t *nl;
		unsigned int status = 0;
		char *path;
		json_t *ans;

		if (!stop)
			stop = end;
		nl = memchr(req, '\n', (size_t)(stop - req));
		if (!nl)
			nl = stop;
		path = fuzz_str(req, (size_t)(nl - req));
		ans = sfs_plugin_handle(
		    &p, path, nl < stop ? (const char *)nl + 1 : "",
		    nl < stop ? (size_t)(stop - nl - 1) : 0, &status);
		check_answer(ans, status);
		json_decref(ans);
		free(path);
		req = stop + 1;
	}
	sfs_plugin_close(&p);
	snprintf(state, sizeof(state), "%s/%s", root, SFS_PLUGIN_STATE_FILE);
	if (sfs_plugin_state_load(&again, state, err, sizeof(err)) != 0) {
		fprintf(stderr, "state written by the plugin: %s\n", err);
		FUZZ_CHECK(!"the plugin's own state file loads");
	}
	sfs_plugin_state_free(&again);
	remove_tree(root);
	return 0;
}
