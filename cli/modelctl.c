/* SPDX-License-Identifier: MIT */
#include "util/common.h"

int main(int argc, char **argv)
{
    MD_UNUSED(argc);
    MD_UNUSED(argv);
    return 2;
}
