/* SCAFFOLD: replaced by the owner of this command. */
#include <stdio.h>
#include "commands.h"
int lec_cmd_bench(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "lectern %s: not built yet\n", argv[0]);
    return 1;
}
