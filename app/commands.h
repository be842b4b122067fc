/* commands.h -- the `lectern` subcommands. Each takes (argc, argv) with
 * argv[0] = the subcommand name, handles its own --help, prints errors to
 * stderr and returns the process exit status (0 ok, 1 failure, 2 usage). */
#ifndef LEC_COMMANDS_H
#define LEC_COMMANDS_H

typedef int (*lec_cmd_fn)(int argc, char **argv);

typedef struct lec_command {
    const char *name;
    const char *summary;
    lec_cmd_fn run;
} lec_command;

/* One line per command; each is implemented in app/cmd_<name>.c. */
int lec_cmd_devices(int argc, char **argv);
int lec_cmd_spectrogram(int argc, char **argv);
int lec_cmd_bench(int argc, char **argv);
int lec_cmd_corpus(int argc, char **argv);
int lec_cmd_eval(int argc, char **argv);
int lec_cmd_train(int argc, char **argv);
int lec_cmd_import(int argc, char **argv);
int lec_cmd_show(int argc, char **argv);
int lec_cmd_follow(int argc, char **argv);
int lec_cmd_replay(int argc, char **argv);
int lec_cmd_demo(int argc, char **argv);

/* Helpers shared by commands. */
/* True if argv contains -h or --help (before a "--"). */
int lec_wants_help(int argc, char **argv);

#endif
