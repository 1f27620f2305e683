/*
 * Checkpoint policy (the engine's side): where checkpoints go and what they are called,
 * the `latest` pointer, keeping the last K, and finding the newest valid one to restart
 * from. The file format itself is src/io/checkpoint.c.
 *
 * A checkpoint at step S is two files in checkpoint.dir:
 *   ckpt_SSSSSSSS.h5       the state (clhs_checkpoint_write: tmp, flush, close, rename)
 *   ckpt_SSSSSSSS.out.h5   a consistent copy of the output file at that step
 * and `latest` names the newest complete one. The snapshot is written first, then the
 * state, then `latest`; older checkpoints are deleted only after all three are durable.
 */
#define _POSIX_C_SOURCE 200809L
#include "ckpt_policy.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/checkpoint.h"
#include "clhs/fileutil.h"

static void ckpt_names(const char *dir, int64_t step, char *state, char *snap, size_t len) {
  snprintf(state, len, "%s/ckpt_%08lld.h5", dir, (long long)step);
  snprintf(snap, len, "%s/ckpt_%08lld.out.h5", dir, (long long)step);
}

static int cmp_str_desc(const void *a, const void *b) {
  return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* The state files in @p dir, newest first (names sort by step). Rank 0 only. */
static int list_ckpts(const char *dir, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return -1;
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, "ckpt_", 5) != 0 || len < 9 || strcmp(e->d_name + len - 3, ".h5") ||
        strstr(e->d_name, ".out.h5") || strstr(e->d_name, ".tmp"))
      continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nn = realloc(*names, sizeof(char *) * (size_t)cap);
      if (!nn) break;
      *names = nn;
    }
    (*names)[(*n)++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(*names, (size_t)*n, sizeof(char *), cmp_str_desc);
  return 0;
}

static void free_names(char **names, int n) {
  for (int k = 0; k < n; k++)
    free(names[k]);
  free(names);
}

/* Rank 0: delete all but the newest @p keep checkpoints (state and snapshot), and what a
 * killed run left behind: temporary files and snapshots without a state file, older than
 * the newest checkpoint. */
static void prune(const char *dir, int64_t keep) {
  char **names;
  int n;
  if (list_ckpts(dir, &names, &n) != 0) return;
  DIR *d = n > 0 ? opendir(dir) : NULL;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "ckpt_", 5) != 0 || strcmp(e->d_name, names[0]) >= 0) continue;
    const size_t len = strlen(e->d_name);
    char p[4096], state[4096];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (len > 4 && !strcmp(e->d_name + len - 4, ".tmp")) {
      unlink(p);
    } else if (len > 7 && !strcmp(e->d_name + len - 7, ".out.h5")) {
      snprintf(state, sizeof state, "%s/%.*s.h5", dir, (int)(len - 7), e->d_name);
      if (access(state, F_OK) != 0) unlink(p);
    }
  }
  if (d) closedir(d);
  for (int k = (int)keep; k < n; k++) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, names[k]);
    unlink(p);
    size_t len = strlen(p);
    if (len > 3) {
      snprintf(p + len - 3, sizeof p - (len - 3), ".out.h5");
      unlink(p);
    }
  }
  free_names(names, n);
  clhs_fsync_folder_of(dir);
}

int clhs_ckpt_save(const clhs_config *cfg, clhs_world *w, clhs_output *out, const char *parent,
                   char *written, size_t written_len, clhs_error *err) {
  const clhs_comm *comm = w->comm;
  const char *dir = cfg->checkpoint.dir;
  int st = CLHS_OK;
  if (comm->rank == 0) st = clhs_mkdir_p(dir, err);
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st) return err->code = st;
  char state[2048], snap[2048];
  ckpt_names(dir, w->step, state, snap, sizeof state);
  /* 1. A consistent copy of the output at this step. */
  st = clhs_output_snapshot(out, snap, err);
  if (st) return st;
  /* 2. The state. */
  clhs_ckpt_meta meta;
  memset(&meta, 0, sizeof meta);
  meta.step = w->step;
  meta.output_records = clhs_output_records(out);
  meta.digest = clhs_world_digest(w);
  snprintf(meta.output_snapshot, sizeof meta.output_snapshot, "ckpt_%08lld.out.h5",
           (long long)w->step);
  snprintf(meta.parent, sizeof meta.parent, "%s", parent ? parent : "");
  meta.config_yaml = clhs_config_to_yaml(cfg, 0);
  meta.format = CLHS_CKPT_FORMAT;
  time_t now = time(NULL);
  strftime(meta.created_utc, sizeof meta.created_utc, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  st = clhs_checkpoint_write(w, state, &meta, err);
  free(meta.config_yaml);
  if (st) return st;
  /* 3. The pointer, then 4. the old ones. */
  if (comm->rank == 0) {
    char latest[2048], text[2048];
    snprintf(latest, sizeof latest, "%s/latest", dir);
    snprintf(text, sizeof text, "%s\n", strrchr(state, '/') + 1);
    st = clhs_write_text_atomic(latest, text, err);
    if (st == CLHS_OK && cfg->checkpoint.keep > 0) prune(dir, cfg->checkpoint.keep);
  }
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st) return err->code = st;
  if (written) snprintf(written, written_len, "%s", state);
  return CLHS_OK;
}

int clhs_ckpt_candidates(const char *path, char ***out, int *n, clhs_error *err) {
  struct stat sb;
  *out = NULL;
  *n = 0;
  if (stat(path, &sb) != 0)
    return clhs_error_set(err, CLHS_EINPUT, "restart: '%s' does not exist (%s)", path,
                          strerror(errno));
  if (!S_ISDIR(sb.st_mode)) {
    *out = malloc(sizeof(char *));
    if (!*out) return clhs_error_set(err, CLHS_ENOMEM, "out of memory");
    (*out)[0] = strdup(path);
    *n = 1;
    return CLHS_OK;
  }
  /* A folder: `latest` first, then every other checkpoint, newest first. */
  char **names;
  int m;
  if (list_ckpts(path, &names, &m) != 0)
    return clhs_error_set(err, CLHS_EINPUT, "restart: cannot read the folder '%s' (%s)", path,
                          strerror(errno));
  char latest[4096] = "";
  char lp[4096];
  snprintf(lp, sizeof lp, "%s/latest", path);
  FILE *f = fopen(lp, "r");
  if (f) {
    if (fgets(latest, sizeof latest, f)) latest[strcspn(latest, "\r\n")] = '\0';
    fclose(f);
  }
  char **list = calloc((size_t)m + 1, sizeof(char *));
  if (!list) {
    free_names(names, m);
    return clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  }
  int k = 0;
  char buf[8192];
  if (latest[0]) {
    snprintf(buf, sizeof buf, "%s/%s", path, latest);
    list[k++] = strdup(buf);
  }
  for (int j = 0; j < m; j++) {
    if (latest[0] && !strcmp(names[j], latest)) continue;
    snprintf(buf, sizeof buf, "%s/%s", path, names[j]);
    list[k++] = strdup(buf);
  }
  free_names(names, m);
  if (k == 0) {
    free(list);
    return clhs_error_set(err, CLHS_EINPUT, "restart: no checkpoint (ckpt_*.h5) in the folder '%s'",
                          path);
  }
  *out = list;
  *n = k;
  return CLHS_OK;
}

void clhs_ckpt_snapshot_path(const char *state, const char *snapshot_name, char *buf, size_t len) {
  const char *slash = strrchr(state, '/');
  if (slash)
    snprintf(buf, len, "%.*s/%s", (int)(slash - state), state, snapshot_name);
  else
    snprintf(buf, len, "%s", snapshot_name);
}
