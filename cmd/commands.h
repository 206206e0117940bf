/*
 * commands.h - the addcow-img subcommands, one file each (img-*.c).
 *
 * Each takes the arguments after "addcow-img" (argv[0] is the subcommand
 * name), parses its own options and returns the exit status.
 */
#ifndef ADDCOW_CMD_COMMANDS_H
#define ADDCOW_CMD_COMMANDS_H

int cmd_create (int argc, char **argv);
int cmd_info (int argc, char **argv);
int cmd_check (int argc, char **argv);
int cmd_map (int argc, char **argv);
int cmd_commit (int argc, char **argv);
int cmd_rebase (int argc, char **argv);
int cmd_resize (int argc, char **argv);
int cmd_measure (int argc, char **argv);
int cmd_compare (int argc, char **argv);
int cmd_convert (int argc, char **argv);

#endif /* ADDCOW_CMD_COMMANDS_H */
