/* SPDX-License-Identifier: MIT */
/*
 * banned.h: functions that are too easy to misuse. Including this header turns
 * a call to any of them into a compile error naming the function.
 */
#ifndef MD_UTIL_BANNED_H
#define MD_UTIL_BANNED_H

#define MD_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) MD_BANNED(strcpy)
#undef strcat
#define strcat(x, y) MD_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) MD_BANNED(strncpy)
#undef sprintf
#define sprintf(...) MD_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) MD_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) MD_BANNED(strtok)
#undef gmtime
#define gmtime(t) MD_BANNED(gmtime)
#undef localtime
#define localtime(t) MD_BANNED(localtime)
#undef ctime
#define ctime(t) MD_BANNED(ctime)
#undef asctime
#define asctime(t) MD_BANNED(asctime)
#undef atoi
#define atoi(s) MD_BANNED(atoi)
#undef atol
#define atol(s) MD_BANNED(atol)

#endif
