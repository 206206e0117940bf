/*
 * addcow-img.c - main: global options and the table of subcommands.
 *
 * Nothing else lives here: each subcommand is one img-*.c file that parses
 * its own options.  The exit status is the subcommand's, except that a
 * failure to write standard output (e.g. > /dev/full) is always 1.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <addcow.h>

#include "commands.h"
#include "options.h"
#include "output.h"

struct command {
  const char *name;
  int (*fn) (int argc, char **argv);
  const char *summary;
};

static const struct command commands[] = {
  { "create", cmd_create, "create an add-cow image (and its image file)" },
  { "info", cmd_info, "show the header and the layers of an image" },
  { "check", cmd_check, "check an image for problems, and repair them" },
  { "map", cmd_map, "show which layer provides each part of the disk" },
  { "commit", cmd_commit, "write an image's clusters into its backing file" },
  { "rebase", cmd_rebase, "change the backing file, or flatten the image" },
  { "resize", cmd_resize, "grow or shrink the virtual disk" },
  { "measure", cmd_measure, "the storage an image or a copy of one needs" },
  { "compare", cmd_compare, "tell whether two images hold the same disk" },
  { "convert", cmd_convert, "write an image's disk to a raw file or add-cow" },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help (void)
{
  size_t i;

  printf ("usage: addcow-img [-h | --help] [-V | --version] "
          "COMMAND [COMMAND OPTIONS]\n"
          "Create, inspect, check and merge add-cow disk images.\n"
          "\n"
          "Commands:\n");
  for (i = 0; i < N_COMMANDS; i++)
    printf ("  %-8s %s\n", commands[i].name, commands[i].summary);
  printf ("\n"
          "Global options:\n"
          "  -h, --help     display this help and exit\n"
          "  -V, --version  output version information and exit\n"
          "\n"
          "Run 'addcow-img COMMAND --help' for the options of a command.\n"
          "See addcow-img(1) for the details, addcow(5) for the format.\n");
}

static const struct command *find_command (const char *name)
{
  size_t i;

  for (i = 0; i < N_COMMANDS; i++)
    if (strcmp (commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int run (int argc, char **argv)
{
  static const struct option long_options[] = {
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  const struct command *cmd;
  int c;

  opterr = 0;
  while ((c = getopt_long (argc, argv, "+:hV", long_options, NULL)) != -1) {
    switch (c) {
    case 'h':
      print_help ();
      return 0;
    case 'V':
      printf ("addcow-img version %s\n", ADDCOW_VERSION_STRING);
      return 0;
    default:
      return getopt_error (c, argv);
    }
  }
  if (optind >= argc)
    return usage_error ("Not enough arguments");
  cmd = find_command (argv[optind]);
  if (cmd == NULL)
    return usage_error ("Command not found: %s", argv[optind]);
  argc -= optind;
  argv += optind;
  optind = 0;                   /* the subcommand starts getopt afresh */
  return cmd->fn (argc, argv);
}

int main (int argc, char **argv)
{
  int status;

  progname = "addcow-img";
  status = run (argc, argv);
  if (finish_stdout () < 0)
    status = 1;
  return status;
}
