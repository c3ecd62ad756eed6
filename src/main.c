/* SPDX-License-Identifier: MIT */
/*
 * main.c: only main. Everything else lives in the layers below.
 */
#include "util/common.h"

int main(int argc, char **argv)
{
    MD_UNUSED(argc);
    MD_UNUSED(argv);
    fprintf(stderr, "modeld: not yet wired\n");
    return 1;
}
