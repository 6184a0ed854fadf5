/*
 * cli.h — the verbs of the `mapprof` command. main.c dispatches argv[1] to
 * one function per verb, each in its own file (top.c, ...). A verb returns
 * the process exit status: 0 success, 1 a failure of the work itself, 2 bad
 * usage or unreadable input (after printing one line to stderr).
 */
#ifndef MAPPROF_CLI_H
#define MAPPROF_CLI_H

int cli_top(int argc, char **argv);

#endif
