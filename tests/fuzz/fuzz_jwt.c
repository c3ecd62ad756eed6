/* SPDX-License-Identifier: MIT */
/*
 * fuzz_jwt.c: JSON Web Tokens and JWKS files (api/jwt.c). The first byte
 * picks what the rest is: a JWKS text, read into a verifier; or a token,
 * verified (twice, the second time from the cache when the first took it)
 * against a fixed JWKS of one RSA and one P-256 key at a fixed time. A
 * token that verifies must grant only what its roles give and name a
 * principal of printable text. The seeds in tests/fuzz/corpus/jwt/ hold
 * tokens those keys signed (made with the openssl command), so the
 * fuzzer starts past the signature check.
 */
#include "api/jwt.h"

#include <assert.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public half of the keys that signed the seeds: kid r1 (RSA 2048), e1 (P-256). */
static const char fixed_jwks[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"alg\":\"RS256\",\"n\":\"2xl7XMiboYuxx_uS5"
    "9MeBI7k6XfuCbafr1ZesVbpvnU3Udi1g86pdIi_ImamajQf644x1X-3PSzdl99NOsP75jzd67ulSw5YnoyX5zO"
    "T_mtHfhuPtKg5sol39zRdJfIvRD9bH7Oz58t1odLFn09CEx-rnj1zwElE0nlFTR1k2yo2f1vNTc27NA7hQ-vj8"
    "velkcpz2VwihkwjWKpuEWBfJowvVROOqKTRnExRT3zDU58RuC6lczQ59pwUazrBcBVaEY2UZMfd01OXL5YSYqO"
    "KNDs7FFePlMNbLicABjIDZc9LMdTBbGM77xesk5vY-dNzcqK6j0MPLcP1ALTpe8kglw\",\"e\":\"AQAB\"},"
    "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"GUBeKAiOFu7MRG7FmNG96mFKM1X_D"
    "UxEeHw3I8kkaZY\",\"y\":\"WapBhSgBtRnU9I1FgrmLm8iK2psn0k1E9sN-Uh-DL94\"}]}";

static const struct md_jwt_config cfg = {
    NULL, "https://idp.example", "modeld", "roles", "models", 60, 64};

static void check_identity(const struct md_jwt_identity *id)
{
    assert(strncmp(id->name, "jwt:", 4) == 0);
    for (const char *p = id->name; *p != '\0'; p++)
        assert(*p >= 0x20 && *p < 0x7f);
    assert((id->perms & ~md_role_perms(MD_ROLE_ADMIN)) == 0);
    assert(id->role != 0 || id->perms == 0);
    assert(id->all_models || id->n_models <= MD_JWT_MODELS_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct md_jwt *fixed;
    struct md_jwt *j = NULL;
    struct md_jwt_identity id;
    struct md_err err;

    if (size == 0)
        return 0;
    if (fixed == NULL &&
        md_jwt_new_jwks(&cfg, fixed_jwks, strlen(fixed_jwks), "fixed", &fixed, &err) != MD_OK)
        abort();
    if ((data[0] & 1) == 0) {
        if (md_jwt_new_jwks(&cfg, (const char *)data + 1, size - 1, "fuzz", &j, &err) == MD_OK)
            assert(md_jwt_key_count(j) >= 1 && md_jwt_key_count(j) <= MD_JWT_MAX_KEYS);
        else
            assert(err.code == MD_EINVAL && err.msg[0] != '\0');
        md_jwt_free(j);
        return 0;
    }
    for (int round = 0; round < 2; round++) {
        if (md_jwt_verify(fixed, (const char *)data + 1, size - 1, 1800000000, &id, &err) !=
            MD_OK) {
            assert(err.code == MD_EAUTH);
            return 0;
        }
        check_identity(&id);
        assert(id.exp_s + 60 > 1800000000);
    }
    return 0;
}
