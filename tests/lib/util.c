/* util.c - helpers shared by the test binaries (see util.h). */
#include "util.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mount_util.h"

void sfs_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

double sfs_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int sfs_rm_one(const char *path, const struct stat *st, int flag,
	       struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

int sfs_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

void sfs_tmpdir_make(char *dir, size_t cap, const char *tag)
{
	snprintf(dir, cap, "/tmp/sfs-test-%s-XXXXXX", tag);
	cr_assert(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
}

void sfs_tmpdir_remove(const char *dir)
{
	if (dir[0])
		nftw(dir, sfs_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *sfs_write_text(const char *dir, const char *name, const char *text)
{
	static char path[PATH_MAX + 32];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert(f != NULL, "fopen %s: %s", path, strerror(errno));
	cr_assert(fputs(text, f) >= 0);
	cr_assert(fclose(f) == 0);
	return path;
}

char *sfs_slurp(const char *path)
{
	size_t len;
	char *s = sfs_read_file(path, &len);

	return s ? s : strdup("");
}

const char *sfs_repo_file(const char *rel)
{
	static char path[PATH_MAX + 32];
	static char cwd[PATH_MAX];
	char dir[PATH_MAX];
	const char *starts[2];
	size_t n = 0;

	cr_assert(getcwd(cwd, sizeof(cwd)) != NULL);
	starts[n++] = cwd;
	starts[n++] = SFS_BUILD_DIR;
	for (size_t i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s", starts[i]);
		for (;;) {
			char *slash;

			snprintf(path, sizeof(path), "%s/%s", dir, rel);
			if (access(path, R_OK) == 0)
				return path;
			slash = strrchr(dir, '/');
			if (!slash || slash == dir)
				break;
			*slash = '\0';
		}
	}
	cr_assert_fail("%s not found from %s", rel, starts[0]);
	return NULL;
}

const char *sfs_shipped_conf(void)
{
	return sfs_repo_file("conf/scratchfs.conf");
}

pid_t sfs_spawn_redirected(const char *const argv[], const char *out_path,
			   const char *err_path, void (*prep)(const void *arg),
			   const void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int fo = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fi = open("/dev/null", O_RDONLY);

		if (fo < 0 || fe < 0 || fi < 0)
			_exit(99);
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		if (prep)
			prep(arg);
		execv(argv[0], (char *const *)argv);
		_exit(98);
	}
	return pid;
}

bool sfs_tree_contains(const char *dir, const char *needle, int *files)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		char path[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (strstr(de->d_name, needle))
			found = true;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
			(int)sizeof(path) ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			found = found || sfs_tree_contains(path, needle, files);
		} else if (S_ISREG(st.st_mode)) {
			size_t len;
			char *text = sfs_read_file(path, &len);

			if (files)
				(*files)++;
			if (text && memmem(text, len, needle, strlen(needle)))
				found = true;
			free(text);
		}
	}
	closedir(d);
	return found;
}

/* sfs_tree_has_bytes' search: nftw() passes no argument to its callback. */
static const void *search_needle;
static size_t search_len;
static bool search_found, search_verbose;

static int search_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	size_t len;
	char *data;

	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	data = sfs_read_file(path, &len);
	if (data && memmem(data, len, search_needle, search_len)) {
		if (search_verbose)
			fprintf(stderr, "found in %s\n", path);
		search_found = true;
	}
	free(data);
	return 0;
}

bool sfs_tree_has_bytes(const char *dir, const void *needle, size_t len,
			bool verbose)
{
	search_verbose = verbose;
	search_needle = needle;
	search_len = len;
	search_found = false;
	nftw(dir, search_one, 16, FTW_PHYS | FTW_MOUNT);
	return search_found;
}

int sfs_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool sfs_is_b64url(const char *s)
{
	return s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxy"
			   "z0123456789-_")] == '\0';
}

long long sfs_json_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	cr_assert(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

size_t sfs_cached_pages(int fd, off_t off, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE),
	       n = (len + page - 1) / page;
	size_t hits = 0;
	unsigned char *vec;
	void *map;

	cr_assert_gt(len, 0);
	vec = malloc(n);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);
	cr_assert(vec && map != MAP_FAILED, "mapping for mincore: %s",
		  strerror(errno));
	cr_assert_eq(mincore(map, len, vec), 0);
	munmap(map, len);
	for (size_t i = 0; i < n; i++)
		hits += vec[i] & 1;
	free(vec);
	return hits;
}

long sfs_proc_status(pid_t pid, const char *field)
{
	size_t len = strlen(field);
	char path[64], line[256];
	long value = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (value < 0 && fgets(line, sizeof(line), f))
		if (strncmp(line, field, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, "%ld", &value) != 1)
			value = -1;
	fclose(f);
	return value;
}
