/*
 * A run owns its files: which output file a run may write, and the lock that keeps two
 * live runs off one output (include: runfiles.h). Rank 0 only; no MPI.
 */
#define _DEFAULT_SOURCE
#include "runfiles.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clhs/launch.h"
#include "clhs/output.h"

static const char *kind_of(mode_t m) {
  return S_ISLNK(m)    ? "a symbolic link"
         : S_ISDIR(m)  ? "a folder"
         : S_ISCHR(m)  ? "a character device"
         : S_ISBLK(m)  ? "a block device"
         : S_ISFIFO(m) ? "a named pipe"
         : S_ISSOCK(m) ? "a socket"
                       : "not a regular file";
}

int clhs_output_claim(const char *path, const char *run_id, const char *const *inputs, int ninputs,
                      const char *ckpt_dir, int overwrite, clhs_lock *lk, clhs_error *err) {
  if (clhs_output_check_path(path, err) != CLHS_OK) return err->code = CLHS_EINPUT;
  char probe[4200];
  snprintf(probe, sizeof probe, "%s.%s.tmp", path, run_id);
  if (clhs_launch_check_io_path(probe, "output.path", err) != CLHS_OK) return CLHS_EINPUT;
  struct stat sb;
  int exists = lstat(path, &sb) == 0;
  if (exists && !S_ISREG(sb.st_mode))
    return clhs_error_set(err, CLHS_EINPUT,
                          "output '%s' is %s: clhsim writes its output only as a regular file it "
                          "creates (it never replaces links, devices or folders); choose another "
                          "-o / output.path",
                          path, kind_of(sb.st_mode));
  /* Not the checkpoint folder itself, nor a folder on its way (the same text, trailing
   * slashes and a leading ./ aside: the folder is made only at the first checkpoint). */
  if (ckpt_dir && ckpt_dir[0]) {
    const char *a = path, *b = ckpt_dir;
    while (!strncmp(a, "./", 2))
      a += 2;
    while (!strncmp(b, "./", 2))
      b += 2;
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
      la--;
    while (lb > 1 && b[lb - 1] == '/')
      lb--;
    if (la <= lb && !strncmp(a, b, la) && (la == lb || b[la] == '/'))
      return clhs_error_set(err, CLHS_EINPUT,
                            "output '%s' and checkpoint.dir '%s' are the same path (or the "
                            "checkpoint folder would be made inside the output's name): give "
                            "them different names",
                            path, ckpt_dir);
  }
  /* Not in the checkpoint folder (its files are the run's checkpoints). */
  struct stat cd, od;
  char folder[4200];
  clhs_folder_of(path, folder, sizeof folder);
  if (ckpt_dir && ckpt_dir[0] && stat(ckpt_dir, &cd) == 0 && stat(folder, &od) == 0 &&
      cd.st_dev == od.st_dev && cd.st_ino == od.st_ino)
    return clhs_error_set(err, CLHS_EINPUT,
                          "output '%s' is in the checkpoint folder '%s', whose files are the "
                          "run's checkpoints: choose another -o / output.path",
                          path, ckpt_dir);
  /* The lock first, then the checks of what is there (no other run can change it now). */
  char lock[4200], info[512], holder[512], host[256] = "?", when[32] = "";
  snprintf(lock, sizeof lock, "%s.lock", path);
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  time_t now = time(NULL);
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  snprintf(info, sizeof info, "run_id %s pid %ld host %s since %s\n", run_id, (long)getpid(), host,
           when);
  clhs_error why;
  clhs_error_clear(&why);
  if (clhs_lock_try(lk, lock, info, holder, sizeof holder, &why) != CLHS_OK) {
    if (why.code) return clhs_error_set(err, CLHS_EINPUT, "output '%s': %s", path, why.msg);
    return clhs_error_set(err, CLHS_EINPUT,
                          "output '%s' is being written by another clhsim run (%s); two runs "
                          "must not share an output file: choose another -o / output.path",
                          path, holder[0] ? holder : "see its lock file");
  }
  exists = lstat(path, &sb) == 0;
  int st = CLHS_OK;
  if (exists && !S_ISREG(sb.st_mode))
    st = clhs_error_set(err, CLHS_EINPUT, "output '%s' is %s: choose another -o / output.path",
                        path, kind_of(sb.st_mode));
  for (int i = 0; exists && st == CLHS_OK && i < ninputs; i++) {
    struct stat ib;
    if (inputs[i] && stat(inputs[i], &ib) == 0 && ib.st_dev == sb.st_dev && ib.st_ino == sb.st_ino)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "output '%s' is one of this run's inputs ('%s'): a run never writes "
                          "over what it reads; choose another -o / output.path",
                          path, inputs[i]);
  }
  if (exists && st == CLHS_OK && !overwrite) {
    char id[64];
    const int r = clhs_h5_peek_run_id(path, id, sizeof id);
    if (r != 1 || strcmp(id, run_id) != 0)
      st = clhs_error_set(err, CLHS_EINPUT,
                          "output '%s' exists (%s): clhsim does not replace a file that another "
                          "run wrote; choose another -o / output.path, or pass --overwrite to "
                          "replace it",
                          path,
                          r == 1   ? "the output of another clhsim run"
                          : r == 0 ? "an HDF5 file that is not a clhsim output"
                                   : "not an HDF5 file");
  }
  if (st != CLHS_OK) clhs_lock_release(lk, 1);
  return st;
}

void clhs_output_unclaim(clhs_lock *lk) {
  clhs_lock_release(lk, 1);
}
