/* rebase.c - placeholder until addcow_rebase lands (issue 3). */
#include <errno.h>
#include "internal.h"

int
addcow_rebase (const char *path, const struct addcow_rebase_opts *opts)
{
  (void) opts;
  return set_error (ENOSYS, "%s: rebase is not implemented yet", path);
}
