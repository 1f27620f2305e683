/* Launch checks (include/clhs/launch.h). */
#include "clhs/launch.h"

void clhs_launch_preinit(int argc, char **argv) {
  (void)argc;
  (void)argv;
}

int clhs_launch_check(const clhs_comm *comm, clhs_error *err) {
  (void)comm;
  (void)err;
  return CLHS_OK;
}

int clhs_launch_check_io_path(const char *path, const char *what, clhs_error *err) {
  (void)path;
  (void)what;
  (void)err;
  return CLHS_OK;
}
