/* SPDX-License-Identifier: MIT */
/*
 * fuzz_router.c: the router's path grammar on arbitrary methods and paths.
 */
#include "net/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "DELETE"};
    struct md_arena a;
    struct md_route rt;
    enum md_api_family fam;
    const char *allow;
    char *path;
    int id;

    if (size == 0)
        return 0;
    path = malloc(size);
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    md_arena_init(&a, 1 << 20);
    md_router_match(methods[data[0] % 4], path, &a, &id, &rt, &fam, &allow);
    md_arena_release(&a);
    free(path);
    return 0;
}
