/* util.h - helpers shared by the test binaries that are not about
 * mounts: scratch directories, small files, timing, case tables. */
#ifndef SFS_TESTS_UTIL_H
#define SFS_TESTS_UTIL_H

#include <criterion/parameterized.h>
#include <ftw.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/*
 * Criterion re-executes the test binary for each parameter, so parameters
 * must not hold pointers: they are indices into a static table of cases.
 *   SFS_CASE_PARAMS(suite, name, cases);
 *   ParameterizedTest(int *i, suite, name) { ... cases[*i] ... }
 */
#define SFS_CASE_PARAMS(suite, name, table)                                    \
	ParameterizedTestParameters(suite, name)                               \
	{                                                                      \
		static int idx[sizeof(table) / sizeof(table[0])];              \
		for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++)      \
			idx[k] = (int)k;                                       \
		return cr_make_param_array(int, idx,                           \
					   sizeof(idx) / sizeof(idx[0]));      \
	}

/* Entries of @dir whose names do not start with '.'; -1 when it cannot be
 * read. */
int sfs_dir_entries(const char *dir);

/* Sleeps @ms milliseconds, resuming after signals. */
void sfs_sleep_ms(long ms);

/* CLOCK_MONOTONIC in seconds. */
double sfs_now_s(void);

/*
 * nftw() callback that removes each entry: with FTW_DEPTH (and FTW_PHYS, so
 * links are removed, never followed) it empties and removes a tree.
 */
int sfs_rm_one(const char *path, const struct stat *st, int flag,
	       struct FTW *ftw);

/*
 * mkdtemp "/tmp/sfs-test-@tag-XXXXXX" into @dir (@cap bytes). Fails the test
 * on error.
 */
void sfs_tmpdir_make(char *dir, size_t cap, const char *tag);

/* Removes the tree @dir made by sfs_tmpdir_make; no-op when @dir is "". */
void sfs_tmpdir_remove(const char *dir);

/*
 * Writes @text to "<dir>/<name>" (created or truncated) and returns the
 * path in a static buffer, valid until the next call. Fails the test on
 * error.
 */
const char *sfs_write_text(const char *dir, const char *name, const char *text);

/* All of @path as a malloc'ed string; "" (still malloc'ed) when it cannot
 * be read. The caller frees. */
char *sfs_slurp(const char *path);

/*
 * The repository's file @rel (e.g. "conf/scratchfs.conf"), looked for in
 * the working directory and its parents, then in SFS_BUILD_DIR and its
 * parents. Static buffer. Fails the test when there is none.
 */
const char *sfs_repo_file(const char *rel);

/* sfs_repo_file("conf/scratchfs.conf"). */
const char *sfs_shipped_conf(void);

/*
 * True when the name of any entry under @dir, or the contents of any
 * regular file there, contains @needle (links are not followed). Counts the
 * regular files read into *@files when @files is not NULL.
 */
bool sfs_tree_contains(const char *dir, const char *needle, int *files);

/*
 * True when the @len bytes at @needle occur in any regular file under @dir
 * (symlinks not followed, mounts not crossed). With @verbose each such file
 * is named on stderr ("found in PATH").
 */
bool sfs_tree_has_bytes(const char *dir, const void *needle, size_t len,
			bool verbose);

/*
 * Forks and execs argv[0] with stdin from /dev/null and stdout and stderr
 * in @out_path and @err_path (created or truncated, 0600). @prep, when not
 * NULL, runs in the child just before the exec (with @arg). The child exits
 * 99 when a file cannot be opened and 98 when the exec fails. Returns the
 * child's pid; fails the test when fork fails.
 */
pid_t sfs_spawn_redirected(const char *const argv[], const char *out_path,
			   const char *err_path, void (*prep)(const void *arg),
			   const void *arg);

/* How many of the pages of [@off, @off + @len) of file @fd are in the page
 * cache (mincore of a mapping); @off page aligned, @len > 0. Fails the test
 * on error. */
size_t sfs_cached_pages(int fd, off_t off, size_t len);

/* qsort comparator for an array of C strings. */
int sfs_cmp_str(const void *a, const void *b);

/* True when @s holds only base64url characters (A-Z a-z 0-9 - _). */
bool sfs_is_b64url(const char *s);

/* The integer member @key of JSON object @o; fails the test when it is
 * missing or not an integer. */
long long sfs_json_int(json_t *o, const char *key);

/* The number after "@field:" in /proc/@pid/status (VmRSS in kB, FDSize,
 * ...), or -1 when the process or the field is not there. */
long sfs_proc_status(pid_t pid, const char *field);

#endif /* SFS_TESTS_UTIL_H */
