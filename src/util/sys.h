/* SPDX-License-Identifier: MIT */
/*
 * sys.h: facts about the machine the process runs on.
 */
#ifndef MD_UTIL_SYS_H
#define MD_UTIL_SYS_H

#include "util/common.h"

/*
 * The CPUs this process may run on (its affinity mask, else the online
 * count), at least 1; read once, then cached.
 */
unsigned md_cpus(void);

#endif
