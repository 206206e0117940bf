/*
 * replay.c - run every file of the given directories (or the given files)
 * through LLVMFuzzerTestOneInput once: the seed corpus and every input
 * that ever crashed become a regression test without libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static int
run_file (const char *path)
{
  FILE *f = fopen (path, "rb");
  uint8_t *buf;
  long len;

  if (!f || fseek (f, 0, SEEK_END) != 0 || (len = ftell (f)) < 0) {
    perror (path);
    return -1;
  }
  rewind (f);
  buf = malloc ((size_t) len + 1);
  if (!buf || fread (buf, 1, (size_t) len, f) != (size_t) len) {
    perror (path);
    return -1;
  }
  fclose (f);
  LLVMFuzzerTestOneInput (buf, (size_t) len);
  free (buf);
  return 0;
}

static int
by_name (const struct dirent **a, const struct dirent **b)
{
  return strcmp ((*a)->d_name, (*b)->d_name);
}

int
main (int argc, char **argv)
{
  int i, n, k, count = 0;

  for (i = 1; i < argc; i++) {
    struct stat st;
    struct dirent **ents;
    if (stat (argv[i], &st) != 0) {
      perror (argv[i]);
      return 1;
    }
    if (!S_ISDIR (st.st_mode)) {
      if (run_file (argv[i]) < 0)
        return 1;
      count++;
      continue;
    }
    n = scandir (argv[i], &ents, NULL, by_name);
    if (n < 0) {
      perror (argv[i]);
      return 1;
    }
    for (k = 0; k < n; k++) {
      char path[4096];
      if (ents[k]->d_name[0] != '.') {
        snprintf (path, sizeof path, "%s/%s", argv[i], ents[k]->d_name);
        if (run_file (path) < 0)
          return 1;
        count++;
      }
      free (ents[k]);
    }
    free (ents);
  }
  printf ("replayed %d inputs\n", count);
  return count > 0 ? 0 : 1;
}
