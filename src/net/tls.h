/* SPDX-License-Identifier: MIT */
/*
 * tls.h: the listener's TLS material, for libmicrohttpd's GnuTLS: the
 * server's certificate chain and private key, and for mutual TLS the CA
 * whose certificates clients must present. Read from files at start and
 * again on md_tls_reload (SIGHUP); a handshake takes whichever set is
 * current when it asks, so a reload changes no open connection and drops
 * none. The sets a reload replaces are kept until no connection that could
 * still use one is open (md_tls_collect). Speaking TLS on a connection is
 * libmicrohttpd's; net/http.c wires the callbacks below into it.
 */
#ifndef MD_NET_TLS_H
#define MD_NET_TLS_H

#include "util/common.h"
#include "util/err.h"

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

/* The GnuTLS priorities of the listener: its defaults, TLS 1.2 and 1.3 only. */
#define MD_TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Bytes of a certificate, CA or key file read at most. */
#define MD_TLS_FILE_MAX ((size_t)1 << 20)

struct md_tls_config {
    const char *cert;      /* PEM: the server's certificate, then any intermediates */
    const char *key;       /* PEM: its private key (a key file: util/keyfile.h) */
    const char *client_ca; /* PEM: the CAs of client certificates (mutual TLS), or NULL */
};

struct md_tls;

/*
 * Reads the files (paths copied) and checks that the key belongs to the
 * certificate. MD_EINVAL (or md_keyfile_read's and md_read_file's codes)
 * with a message naming the file and what is wrong with it.
 */
int md_tls_new(const struct md_tls_config *cfg, struct md_tls **out,
               struct md_err *err) MD_MUST_CHECK;

/* Frees t and every set it holds; only once no connection uses it. NULL ok. */
void md_tls_free(struct md_tls *t);

/*
 * Reads the same files again. On success the new set serves every handshake
 * from now on and the generation goes up; on failure nothing changes and
 * err says why. Serialised with itself; safe while handshakes run.
 */
int md_tls_reload(struct md_tls *t, struct md_err *err) MD_MUST_CHECK;

/*
 * The current generation. A connection notes it when it opens: every set it
 * can use is of that generation or a later one.
 */
uint64_t md_tls_generation(const struct md_tls *t);

/*
 * Frees the replaced sets older than oldest, the smallest generation an
 * open connection noted (or md_tls_generation's value when none is open).
 * Call it under the lock that orders connections' noting against it.
 */
void md_tls_collect(struct md_tls *t, uint64_t oldest);

/* Whether clients must present a certificate (a client CA was given). */
bool md_tls_mutual(const struct md_tls *t);

/* Sets the retrieve function answers (gnutls_certificate_retrieve_function2). */
int md_tls_retrieve(struct md_tls *t, gnutls_pcert_st **pcert, unsigned *n, gnutls_privkey_t *key);

/*
 * For a new server session, before its handshake: with a client CA, the
 * session requires a client certificate and checks it with verify, a
 * session verify function that finds t and calls md_tls_verify_peer.
 */
void md_tls_session(const struct md_tls *t, gnutls_session_t s,
                    gnutls_certificate_verify_function *verify);

/*
 * Verifies the client's certificate chain against the current client CA:
 * signatures up to a trusted CA, validity dates, and the client-auth key
 * purpose when the certificate names purposes. 0 when it holds, else a
 * negative GnuTLS code (the handshake then fails) with the reason in why
 * (n bytes).
 */
int md_tls_verify_peer(struct md_tls *t, gnutls_session_t s, char *why, size_t n);

#endif
