/*
 * Checkpoint policy (the engine's side): where checkpoints go and what they are called,
 * which run owns a folder, the `latest` pointer, keeping the last K, and finding the newest
 * valid one to restart from (clhs_restart). The file format itself is src/io/checkpoint.c.
 *
 * A checkpoint at step S is two files in the run's checkpoint folder:
 *   ckpt_SSSSSSSS.h5       the state (clhs_checkpoint_write: tmp, flush, close, rename)
 *   ckpt_SSSSSSSS.out.h5   a consistent copy of the output file at that step, whose size
 *                          and checksum the state file records
 * and `latest` names the newest complete one (and the run). The snapshot is written first,
 * then the state, then `latest`; older checkpoints are deleted only after all three are
 * durable, and only the run's own (their run id is read from each file before deleting).
 *
 * Ownership: a folder belongs to the run that first wrote a checkpoint into it (its file
 * `owner` says which; rank 0 holds an flock on it while the run lives). A run never writes
 * into a folder that holds another run's checkpoints: it uses DIR-RUNID8 instead and says
 * so. A continued run keeps its run id (and so its folder); a fork gets a new one.
 */
#define _DEFAULT_SOURCE
#include "checkpoint_policy.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/checkpoint.h"
#include "clhs/fileutil.h"
#include "clhs/launch.h"
#include "clhs/restart.h"
#include "util/text.h"

static void checkpoint_names(const char *dir, int64_t step, char *state, char *snap, size_t len) {
  snprintf(state, len, "%s/ckpt_%08lld.h5", dir, (long long)step);
  snprintf(snap, len, "%s/ckpt_%08lld.out.h5", dir, (long long)step);
}

/* A checkpoint state file's name: ckpt_ + digits + .h5, nothing else (no folder). */
static int is_state_name(const char *n) {
  if (strncmp(n, "ckpt_", 5) != 0) return 0;
  const char *p = n + 5;
  if (!*p) return 0;
  while (*p >= '0' && *p <= '9')
    p++;
  return p > n + 5 && !strcmp(p, ".h5");
}

static int cmp_str_desc(const void *a, const void *b) {
  return -strcmp(*(char *const *)a, *(char *const *)b);
}

/* The state files in @p dir, newest first (names sort by step). Rank 0 only. */
static int list_checkpoints(const char *dir, char ***names, int *n) {
  *names = NULL;
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return -1;
  int cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!is_state_name(e->d_name)) continue;
    if (*n == cap) {
      cap = cap ? 2 * cap : 16;
      char **nn = realloc(*names, sizeof(char *) * (size_t)cap);
      if (!nn) break;
      *names = nn;
    }
    (*names)[(*n)++] = strdup(e->d_name);
  }
  closedir(d);
  if (*n) qsort(*names, (size_t)*n, sizeof(char *), cmp_str_desc);
  return 0;
}

static void free_names(char **names, int n) {
  for (int k = 0; k < n; k++)
    free(names[k]);
  free(names);
}

/* The run id in a text file's line "run_id HEX" (the `owner` file, `latest`); "" if none. */
static void parse_run_id(const char *text, char *id, size_t len) {
  id[0] = '\0';
  const char *p = strstr(text, "run_id ");
  if (!p || (p != text && p[-1] != '\n')) return;
  p += 7;
  size_t k = 0;
  while (k + 1 < len && ((p[k] >= '0' && p[k] <= '9') || (p[k] >= 'a' && p[k] <= 'f')))
    k++;
  memcpy(id, p, k);
  id[k] = '\0';
}

static void read_small(const char *path, char *buf, size_t len) {
  buf[0] = '\0';
  FILE *f = fopen(path, "r");
  if (!f) return;
  size_t k = fread(buf, 1, len - 1, f);
  buf[k] = '\0';
  fclose(f);
}

/* Rank 0: the run that owns folder @p dir: its id in @p id; returns 0 free (missing, or no
 * owner and no checkpoint), 1 owned (id filled), 2 holds checkpoints of an unknown run or of
 * several. A folder without an `owner` file (a copy of a folder, say) belongs to the run
 * that wrote all its checkpoints, if one did. */
static int folder_owner(const char *dir, char *id, size_t len) {
  char p[4200], text[512];
  id[0] = '\0';
  snprintf(p, sizeof p, "%s/owner", dir);
  read_small(p, text, sizeof text);
  parse_run_id(text, id, len);
  if (id[0]) return 1;
  char **names;
  int n;
  if (list_checkpoints(dir, &names, &n) != 0) return 0;
  int mixed = 0;
  for (int k = 0; k < n && !mixed; k++) {
    char one[64];
    snprintf(p, sizeof p, "%s/%s", dir, names[k]);
    if (clhs_h5_peek_run_id(p, one, sizeof one) != 1 || !one[0])
      mixed = 1;
    else if (!id[0])
      snprintf(id, len, "%s", one);
    else if (strcmp(id, one) != 0)
      mixed = 1;
  }
  free_names(names, n);
  if (n > 0 && !mixed) return 1;
  id[0] = '\0';
  snprintf(p, sizeof p, "%s/latest", dir);
  return n > 0 || access(p, F_OK) == 0 ? 2 : 0;
}

/* Rank 0: can folder @p dir be used (created if missing)? Tried for real: the first
 * missing folder is made and removed again, or a probe file is made and removed in an
 * existing one (permission bits do not tell root the truth about /proc, read-only or
 * root-squashed file systems). */
static int check_folder(const char *dir, const char *run_id, int tries, clhs_error *err) {
  struct stat sb;
  if (!dir[0])
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint.dir is empty: set a folder name");
  if (stat(dir, &sb) == 0) {
    if (!S_ISDIR(sb.st_mode))
      return clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint.dir '%s' exists and is not a folder: choose another "
                            "(-P checkpoint.dir=...)",
                            dir);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.clhsim-probe-%s", dir, run_id);
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno == ENOENT && tries < 8) /* removed by another run's try: again */
      return check_folder(dir, run_id, tries + 1, err);
    if (fd < 0)
      return clhs_error_set(err, CLHS_EINPUT,
                            "checkpoint.dir '%s' is not writable (%s): choose another "
                            "(-P checkpoint.dir=...) or fix its permissions",
                            dir, strerror(errno));
    close(fd);
    unlink(probe);
    return CLHS_OK;
  }
  if (errno != ENOENT)
    return clhs_error_set(err, CLHS_EINPUT, "checkpoint.dir '%s' cannot be used (%s)", dir,
                          strerror(errno));
  /* Missing: find the first missing folder on the way down, and try to make it. */
  char up[4096], first[4096];
  snprintf(up, sizeof up, "%s", dir);
  snprintf(first, sizeof first, "%s", dir);
  for (;;) {
    char *slash = strrchr(up, '/');
    while (slash && slash > up && slash[1] == '\0') { /* trailing slashes */
      *slash = '\0';
      slash = strrchr(up, '/');
    }
    if (!slash)
      snprintf(up, sizeof up, ".");
    else if (slash == up)
      up[1] = '\0';
    else
      *slash = '\0';
    if (stat(up, &sb) == 0) break;
    if (errno != ENOENT || !strcmp(up, ".") || !strcmp(up, "/"))
      return clhs_error_set(err, CLHS_EINPUT, "checkpoint.dir '%s' cannot be created: '%s' (%s)",
                            dir, up, strerror(errno));
    snprintf(first, sizeof first, "%s", up);
  }
  if (!S_ISDIR(sb.st_mode))
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint.dir '%s' cannot be created: '%s' is not a folder; choose "
                          "another (-P checkpoint.dir=...)",
                          dir, up);
  if (mkdir(first, 0755) != 0) {
    /* Another run (same working folder) made it, or tried it, between the stat and here:
     * look again (it may also be gone again: that run's own try). */
    if (errno == EEXIST && tries < 8) return check_folder(dir, run_id, tries + 1, err);
    return clhs_error_set(err, CLHS_EINPUT,
                          "checkpoint.dir '%s' cannot be created in '%s' (%s); choose another "
                          "(-P checkpoint.dir=...)",
                          dir, up, strerror(errno));
  }
  rmdir(first); /* made only to try: a run that never checkpoints leaves no folder */
  return CLHS_OK;
}

/* DIR-RUNID8 (trailing slashes of DIR dropped) in @p out (sizeof c->dir). */
static int alt_name(const char *dir, const char *run_id, char *out, size_t len) {
  size_t n = strlen(dir);
  while (n > 1 && dir[n - 1] == '/')
    n--;
  if (n + 10 >= len) return -1;
  memcpy(out, dir, n);
  out[n] = '-';
  size_t k = 0;
  for (; k < 8 && run_id[k]; k++)
    out[n + 1 + k] = run_id[k];
  out[n + 1 + k] = '\0';
  return 0;
}

/* Rank 0: the folder this run will use: @p dir if free or its own, else DIR-RUNID8. */
static int choose_folder(clhs_checkpoint_ctx *c, const char *dir, clhs_error *err) {
  char owner[64];
  snprintf(c->dir, sizeof c->dir, "%s", dir);
  for (int attempt = 0; attempt < 2; attempt++) {
    int st = check_folder(c->dir, c->run_id, 0, err);
    if (st) return st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/ckpt_00000000.out.h5.%s.tmp", c->dir, c->run_id);
    st = clhs_launch_check_io_path(probe, "checkpoint.dir", err);
    if (st) return st;
    const int own = folder_owner(c->dir, owner, sizeof owner);
    if (own == 0 || (own == 1 && !strcmp(owner, c->run_id))) return CLHS_OK;
    if (attempt == 0) {
      snprintf(c->moved_from, sizeof c->moved_from, "%s", c->dir);
      snprintf(c->moved_owner, sizeof c->moved_owner, "%s", own == 1 ? owner : "");
      char alt[sizeof c->dir];
      if (alt_name(c->dir, c->run_id, alt, sizeof alt) != 0)
        return clhs_error_set(err, CLHS_EINPUT, "checkpoint.dir '%s' is too long", c->dir);
      memcpy(c->dir, alt, sizeof alt);
    }
  }
  return clhs_error_set(err, CLHS_EINPUT,
                        "checkpoint folders '%s' and '%s' both hold another run's checkpoints: "
                        "choose a new one (-P checkpoint.dir=...)",
                        c->moved_from, c->dir);
}

void clhs_checkpoint_ctx_init(clhs_checkpoint_ctx *c, const char *run_id,
                              const char *parent_run_id) {
  memset(c, 0, sizeof *c);
  snprintf(c->run_id, sizeof c->run_id, "%s", run_id);
  snprintf(c->parent_run_id, sizeof c->parent_run_id, "%s", parent_run_id ? parent_run_id : "");
  clhs_lock_init(&c->owner);
}

int clhs_checkpoint_prepare(clhs_checkpoint_ctx *c, const clhs_comm *comm, const char *dir,
                            clhs_error *err) {
  int st = CLHS_OK;
  if (comm->rank == 0) st = choose_folder(c, dir, err);
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st) return err->code = st;
  clhs_comm_bcast(comm, c->dir, sizeof c->dir, 0);
  clhs_comm_bcast(comm, c->moved_from, sizeof c->moved_from, 0);
  clhs_comm_bcast(comm, c->moved_owner, sizeof c->moved_owner, 0);
  c->dir[sizeof c->dir - 1] = '\0';
  return CLHS_OK;
}

/* Rank 0: make the folder and take it: lock `owner`, check or write the run id. Returns 1
 * when the folder belongs to another run (or is held by a live process), 0 when taken. */
static int claim(clhs_checkpoint_ctx *c, clhs_error *err) {
  if (clhs_mkdir_p(c->dir, err)) return -1;
  char path[4200], holder[512], info[512], host[256] = "?";
  snprintf(path, sizeof path, "%s/owner", c->dir);
  clhs_error why;
  clhs_error_clear(&why);
  if (clhs_lock_try(&c->owner, path, NULL, holder, sizeof holder, &why) != CLHS_OK) {
    if (why.code) {
      clhs_error_set(err, CLHS_EIO, "%s", why.msg);
      return -1;
    }
    return 1; /* a live process holds it */
  }
  char text[512], id[64];
  ssize_t k = pread(c->owner.fd, text, sizeof text - 1, 0);
  text[k > 0 ? k : 0] = '\0';
  parse_run_id(text, id, sizeof id);
  if (id[0] && strcmp(id, c->run_id) != 0) {
    clhs_lock_release(&c->owner, 0);
    return 1;
  }
  if (!id[0]) { /* a new folder, a copied one, or an owner file from a run killed as it
                 * was made: its checkpoints must all be this run's */
    char other[64];
    const int own = folder_owner(c->dir, other, sizeof other);
    if (own == 2 || (own == 1 && strcmp(other, c->run_id) != 0)) {
      clhs_lock_release(&c->owner, 0);
      return 1;
    }
  }
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  char when[32] = "";
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  snprintf(info, sizeof info,
           "run_id %s\n# a clhsim checkpoint folder: only run %s writes and deletes here\n"
           "# last held by pid %ld on %s since %s\n",
           c->run_id, c->run_id, (long)getpid(), host, when);
  if (ftruncate(c->owner.fd, 0) != 0 ||
      pwrite(c->owner.fd, info, strlen(info), 0) != (ssize_t)strlen(info) ||
      fsync(c->owner.fd) != 0) {
    clhs_error_set(err, CLHS_EIO, "cannot write '%s' (%s)", path, strerror(errno));
    clhs_lock_release(&c->owner, 0);
    return -1;
  }
  clhs_fsync_folder_of(path);
  return 0;
}

/* Rank 0, folder claimed: delete this run's checkpoints but the newest @p keep, and what it
 * left behind when killed (its temporary files; its snapshots without a state file, older
 * than the newest checkpoint). Files of any other run are never touched. */
static void prune(const clhs_checkpoint_ctx *c, int64_t keep) {
  const char *dir = c->dir;
  char **names;
  int n;
  if (list_checkpoints(dir, &names, &n) != 0) return;
  char tag[40], id[64];
  snprintf(tag, sizeof tag, ".%s.tmp", c->run_id);
  DIR *d = n > 0 ? opendir(dir) : NULL;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (strncmp(e->d_name, "ckpt_", 5) != 0 || strcmp(e->d_name, names[0]) >= 0) continue;
    const size_t len = strlen(e->d_name), tl = strlen(tag);
    char p[4200], state[4200];
    snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
    if (len > tl && !strcmp(e->d_name + len - tl, tag)) {
      unlink(p);
    } else if (len > 7 && !strcmp(e->d_name + len - 7, ".out.h5")) {
      snprintf(state, sizeof state, "%s/%.*s.h5", dir, (int)(len - 7), e->d_name);
      if (access(state, F_OK) != 0 && clhs_h5_peek_run_id(p, id, sizeof id) == 1 &&
          !strcmp(id, c->run_id))
        unlink(p);
    }
  }
  if (d) closedir(d);
  for (int k = (int)keep; k < n; k++) {
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, names[k]);
    if (clhs_h5_peek_run_id(p, id, sizeof id) != 1 || strcmp(id, c->run_id) != 0) continue;
    unlink(p);
    size_t len = strlen(p);
    if (len > 3) {
      snprintf(p + len - 3, sizeof p - (len - 3), ".out.h5");
      if (clhs_h5_peek_run_id(p, id, sizeof id) == 1 && !strcmp(id, c->run_id)) unlink(p);
    }
  }
  free_names(names, n);
  clhs_fsync_folder_of(dir);
}

int clhs_checkpoint_save(clhs_checkpoint_ctx *c, const clhs_config *cfg, clhs_world *w,
                         clhs_output *out, const char *parent, char *written, size_t written_len,
                         clhs_error *err) {
  const clhs_comm *comm = w->comm;
  int st = CLHS_OK;
  if (!c->claimed && comm->rank == 0) {
    int r = claim(c, err);
    if (r == 1) { /* taken by another run since the start: use this run's own name */
      snprintf(c->moved_from, sizeof c->moved_from, "%s", c->dir);
      char alt[sizeof c->dir];
      if (alt_name(c->dir, c->run_id, alt, sizeof alt) == 0) memcpy(c->dir, alt, sizeof alt);
      printf("clhsim: checkpoint folder '%s' was taken by another run; this run's checkpoints "
             "go to '%s'\n",
             c->moved_from, c->dir);
      fflush(stdout);
      r = claim(c, err);
      if (r == 1)
        clhs_error_set(err, CLHS_EIO,
                       "checkpoint folders '%s' and '%s' are both another run's: set "
                       "checkpoint.dir to a new folder",
                       c->moved_from, c->dir);
    }
    if (r != 0) st = err->code ? err->code : CLHS_EIO;
  }
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st) return err->code = st;
  if (!c->claimed) {
    clhs_comm_bcast(comm, c->dir, sizeof c->dir, 0);
    c->dir[sizeof c->dir - 1] = '\0';
    c->claimed = 1;
  }
  const char *dir = c->dir;
  char state[4200], snap[4200];
  checkpoint_names(dir, w->step, state, snap, sizeof state);
  /* 1. A consistent copy of the output at this step, and its checksum (read back). */
  st = clhs_output_snapshot(out, snap, err);
  if (st) return st;
  clhs_checkpoint_meta meta;
  memset(&meta, 0, sizeof meta);
  st = clhs_file_checksum(comm, snap, &meta.snapshot_size, &meta.snapshot_sum, CLHS_EIO, err);
  if (st) return st;
  /* 2. The state. */
  meta.step = w->step;
  meta.output_records = clhs_output_records(out);
  meta.digest = clhs_world_digest(w);
  snprintf(meta.output_snapshot, sizeof meta.output_snapshot, "ckpt_%08lld.out.h5",
           (long long)w->step);
  snprintf(meta.parent, sizeof meta.parent, "%s", parent ? parent : "");
  snprintf(meta.run_id, sizeof meta.run_id, "%s", c->run_id);
  snprintf(meta.parent_run_id, sizeof meta.parent_run_id, "%s", c->parent_run_id);
  meta.config_yaml = clhs_config_to_yaml(cfg, 0);
  meta.format = CLHS_CHECKPOINT_FORMAT;
  time_t now = time(NULL);
  strftime(meta.created_utc, sizeof meta.created_utc, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  st = clhs_checkpoint_write(w, state, &meta, err);
  free(meta.config_yaml);
  if (st) {
    if (comm->rank == 0) unlink(snap); /* this run's, just made: no snapshot without state */
    return st;
  }
  /* 3. The pointer, then 4. the old ones. */
  if (comm->rank == 0) {
    char latest[4200], text[4200];
    snprintf(latest, sizeof latest, "%s/latest", dir);
    snprintf(text, sizeof text, "%s\nrun_id %s\n", strrchr(state, '/') + 1, c->run_id);
    st = clhs_write_text_atomic(latest, text, c->run_id, err);
    if (st == CLHS_OK && cfg->checkpoint.keep > 0) prune(c, cfg->checkpoint.keep);
  }
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st) return err->code = st;
  if (written) snprintf(written, written_len, "%s", state);
  return CLHS_OK;
}

void clhs_checkpoint_release(clhs_checkpoint_ctx *c) {
  clhs_lock_release(&c->owner, 0); /* the owner file stays: it says whose folder this is */
}

int clhs_checkpoint_candidates(const char *path, char ***out, int *n, char *note, size_t note_len,
                               clhs_error *err) {
  struct stat sb;
  *out = NULL;
  *n = 0;
  if (note && note_len) note[0] = '\0';
  if (stat(path, &sb) != 0)
    return clhs_error_set(err, CLHS_EINPUT, "restart: '%s' does not exist (%s)", path,
                          strerror(errno));
  if (!S_ISDIR(sb.st_mode)) {
    if (!S_ISREG(sb.st_mode))
      return clhs_error_set(err, CLHS_EINPUT, "restart: '%s' is not a checkpoint file or folder",
                            path);
    *out = malloc(sizeof(char *));
    if (!*out) return clhs_error_set(err, CLHS_ENOMEM, "out of memory");
    (*out)[0] = strdup(path);
    *n = 1;
    return CLHS_OK;
  }
  /* A folder: `latest` first, then every other checkpoint of the folder's run, newest
   * first. `latest` may only name a checkpoint file in this folder. */
  char **names;
  int m;
  if (list_checkpoints(path, &names, &m) != 0)
    return clhs_error_set(err, CLHS_EINPUT, "restart: cannot read the folder '%s' (%s)", path,
                          strerror(errno));
  char owner[64] = "", text[4200], latest[4200] = "", lp[4200];
  folder_owner(path, owner, sizeof owner);
  snprintf(lp, sizeof lp, "%s/latest", path);
  read_small(lp, text, sizeof text);
  if (text[0]) {
    size_t k = strcspn(text, "\r\n");
    snprintf(latest, sizeof latest, "%.*s", (int)k, text);
    if (!is_state_name(latest)) {
      char shown[256];
      fprintf(stderr,
              "clhsim: warning: '%s' names '%s', which is not a checkpoint file of this "
              "folder; ignoring it\n",
              lp, clhs_printable(latest, shown, sizeof shown));
      latest[0] = '\0';
    }
  }
  char **list = calloc((size_t)m + 1, sizeof(char *));
  if (!list) {
    free_names(names, m);
    return clhs_error_set(err, CLHS_ENOMEM, "out of memory");
  }
  int k = 0, foreign = 0;
  char buf[8400], id[64];
  if (latest[0]) {
    snprintf(buf, sizeof buf, "%s/%s", path, latest);
    list[k++] = strdup(buf);
  }
  for (int j = 0; j < m; j++) {
    if (latest[0] && !strcmp(names[j], latest)) continue;
    snprintf(buf, sizeof buf, "%s/%s", path, names[j]);
    if (owner[0] && clhs_h5_peek_run_id(buf, id, sizeof id) == 1 && strcmp(id, owner) != 0) {
      foreign++; /* not the folder's run: never continued by accident */
      continue;
    }
    list[k++] = strdup(buf);
  }
  free_names(names, m);
  if (k == 0) {
    free(list);
    return clhs_error_set(err, CLHS_EINPUT, "restart: no checkpoint (ckpt_*.h5) in the folder '%s'",
                          path);
  }
  if (note && note_len && owner[0])
    snprintf(note, note_len, "the folder '%s' holds run %s%s", path, owner,
             foreign ? " (checkpoints of other runs in it are ignored)" : "");
  *out = list;
  *n = k;
  return CLHS_OK;
}

void clhs_checkpoint_snapshot_path(const char *state, const char *snapshot_name, char *buf,
                                   size_t len) {
  const char *slash = strrchr(state, '/');
  if (slash)
    snprintf(buf, len, "%.*s/%s", (int)(slash - state), state, snapshot_name);
  else
    snprintf(buf, len, "%s", snapshot_name);
}

/* Broadcast a string that only rank 0 knows (NULL elsewhere); returns a malloc'd copy. */
static char *bcast_string(const clhs_comm *comm, const char *s) {
  size_t n = comm->rank == 0 ? strlen(s) + 1 : 0;
  char *buf = NULL;
  if (comm->rank == 0) {
    buf = malloc(n);
    if (buf) memcpy(buf, s, n);
  }
  return clhs_comm_bcast_alloc(comm, buf, &n, 0);
}

int clhs_restart(const clhs_comm *comm, const char *where, const clhs_run_opts *opts,
                 clhs_restart_config_fn make_config, void *arg, clhs_error *err) {
  char **cands = NULL;
  int ncand = 0, st = CLHS_OK;
  char note[4400] = "";
  if (comm->rank == 0)
    st = clhs_checkpoint_candidates(where, &cands, &ncand, note, sizeof note, err);
  if (comm->rank == 0 && st == CLHS_OK && note[0] && !opts->quiet) printf("clhsim: %s\n", note);
  st = clhs_comm_agree(comm, st, err->msg, sizeof err->msg);
  if (st) {
    if (comm->rank == 0) fprintf(stderr, "clhsim: error: %s\n", err->msg);
    return st;
  }
  int64_t n = ncand;
  clhs_comm_sum_i64(comm, &n, 1); /* only rank 0 counted */
  clhs_error last;
  clhs_error_clear(&last);
  for (int64_t k = 0; k < n; k++) {
    char *path = bcast_string(comm, comm->rank == 0 ? cands[k] : NULL);
    clhs_checkpoint_meta meta;
    memset(&meta, 0, sizeof meta);
    clhs_error_clear(err);
    st = clhs_checkpoint_read_meta(comm, path, &meta, err); /* agreed: the same everywhere */
    if (st != CLHS_OK) { /* this checkpoint is unusable: try the next */
      if (comm->rank == 0)
        fprintf(stderr, "clhsim: warning: skipping checkpoint %s: %s\n", path, err->msg);
      last = *err;
      free(path);
      continue;
    }
    clhs_config cfg;
    memset(&cfg, 0, sizeof cfg);
    void *packed = NULL;
    size_t nbytes = 0;
    if (comm->rank == 0 &&
        make_config(meta.config_yaml, path, meta.model_version, &cfg, arg, err) == CLHS_OK)
      packed = clhs_config_pack(&cfg, &nbytes);
    free(meta.config_yaml);
    /* A configuration that cannot be made is a bad request, not a bad checkpoint: stop. */
    if (clhs_comm_agree(comm, err->code, err->msg, sizeof err->msg) != CLHS_OK) {
      if (comm->rank == 0) fprintf(stderr, "clhsim: error: %s\n", err->msg);
      free(packed);
      free(path);
      clhs_config_free(&cfg);
      st = CLHS_EINPUT;
      break;
    }
    packed = clhs_comm_bcast_alloc(comm, packed, &nbytes, 0);
    if (comm->rank != 0) {
      clhs_config_defaults(&cfg);
      clhs_config_unpack(&cfg, packed, nbytes, err);
    }
    free(packed);
    clhs_run_opts o = *opts;
    o.resume = path;
    clhs_run_result res;
    clhs_error_clear(err);
    st = clhs_run(&cfg, comm, &o, &res, err);
    clhs_config_free(&cfg);
    free(path);
    if (st != CLHS_OK && res.bad_checkpoint && k + 1 < n) {
      if (comm->rank == 0)
        fprintf(stderr, "clhsim: warning: skipping checkpoint %s: %s\n", cands[k], err->msg);
      last = *err;
      continue;
    }
    if (st != CLHS_OK && st != CLHS_STOPPED && comm->rank == 0)
      fprintf(stderr, "clhsim: error: %s\n", err->msg);
    last.code = CLHS_OK;
    break;
  }
  if (last.code != CLHS_OK) { /* every candidate failed */
    if (comm->rank == 0)
      fprintf(stderr, "clhsim: error: no usable checkpoint in '%s'; the last problem: %s\n", where,
              last.msg);
    st = CLHS_EINPUT;
  }
  for (int k = 0; k < ncand; k++)
    free(cands[k]);
  free(cands);
  return st;
}
