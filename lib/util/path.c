/*
 * path.c - where the names stored in a header point.
 *
 * A stored name is a plain path (never a protocol or JSON); a relative one
 * is relative to the directory holding the add-cow file, not to the
 * current directory.  Two names may be one file: path_same_file answers
 * that, also for a name that does not exist yet (create).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* PATH with its directory resolved (realpath), for a name that may not
 * exist yet; the whole of it resolved when it does.  NULL if even the
 * directory cannot be resolved. */
static char *
path_canonical (const char *path)
{
  const char *slash = strrchr (path, '/');
  char *dir, *real, *r;
  size_t dlen;

  if ((r = realpath (path, NULL)))
    return r;
  if (!slash)
    dir = strdup (".");
  else if (slash == path)
    dir = strdup ("/");
  else
    dir = strndup (path, (size_t) (slash - path));
  real = dir ? realpath (dir, NULL) : NULL;
  free (dir);
  if (!real)
    return NULL;
  dlen = strlen (real);
  r = malloc (dlen + strlen (slash ? slash + 1 : path) + 2);
  if (r)
    sprintf (r, "%s%s%s", real, real[dlen - 1] == '/' ? "" : "/",
             slash ? slash + 1 : path);
  free (real);
  return r;
}

bool
path_same_file (const char *a, const char *b)
{
  struct stat sa, sb;
  char *ca, *cb;
  bool same;

  if (stat (a, &sa) == 0 && stat (b, &sb) == 0)
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  ca = path_canonical (a);
  cb = path_canonical (b);
  same = ca && cb && strcmp (ca, cb) == 0;
  free (ca);
  free (cb);
  return same;
}
