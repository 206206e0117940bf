/* commit.c - placeholder until addcow_commit lands (issue 3). */
#include <errno.h>
#include "internal.h"

int
addcow_commit (const char *path, const struct addcow_commit_opts *opts)
{
  (void) opts;
  return set_error (ENOSYS, "%s: commit is not implemented yet", path);
}
