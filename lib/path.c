/*
 * path.c - where the names stored in a header point.
 *
 * A stored name is a plain path (never a protocol or JSON); a relative one
 * is relative to the directory holding the add-cow file, not to the
 * current directory.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

char *
path_resolve (const char *base_file, const char *name)
{
  const char *slash = strrchr (base_file, '/');
  size_t dirlen, namelen = strlen (name);
  char *r;

  if (name[0] == '/' || !slash)
    return strdup (name);
  dirlen = (size_t) (slash - base_file) + 1;   /* keep the slash */
  r = malloc (dirlen + namelen + 1);
  if (!r)
    return NULL;
  memcpy (r, base_file, dirlen);
  memcpy (r + dirlen, name, namelen + 1);
  return r;
}
