/*  CURVE options: Z85 keys given directly or read from CZMQ zcert files. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define Z85_KEY 40

static bool s_is_z85_key (const char *text)
{
    if (strlen (text) != Z85_KEY)
        return false;
    uint8_t binary[32];
    return zmq_z85_decode (binary, text) != NULL;
}

/*  PATH as an error message may show it: not at all when it may hold a key
    (40 characters of the Z85 alphabet in a row, as when the key text is
    given where a file is expected, perhaps after a directory): messages end
    up in logs, and a secret key must never.                                 */
static const char *s_shown (const char *path)
{
    static const char z85[] = "0123456789abcdefghijklmnopqrstuvwxyz"
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    size_t run = 0;
    for (const char *at = path; *at; at++) {
        run = strchr (z85, *at) ? run + 1 : 0;
        if (run >= Z85_KEY)
            return "(name not shown: it may hold a key)";
    }
    return path;
}

/*  Reads `NAME = "value"` of a zcert file into VALUE (41 bytes). WHAT names
    the file in messages.                                                    */
static int s_zcert_key (const char *path, const char *name, char *value, const char *what,
                        char *error)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        es_format_error (error, "cannot read %s %.200s: %s", what, s_shown (path),
                         strerror (errno));
        return ES_EINVAL;
    }
    char line[512];
    int found = 0;
    while (!found && fgets (line, sizeof line, file)) {
        char *at = line;
        while (*at == ' ' || *at == '\t')
            at++;
        size_t length = strlen (name);
        if (strncmp (at, name, length) != 0)
            continue;
        at += length;
        while (*at == ' ' || *at == '\t' || *at == '=')
            at++;
        if (*at != '"')
            continue;
        char *end = strchr (at + 1, '"');
        if (end && end - (at + 1) == Z85_KEY) {
            memcpy (value, at + 1, Z85_KEY);
            value[Z85_KEY] = 0;
            found = s_is_z85_key (value);
        }
    }
    fclose (file);
    if (!found) {
        es_format_error (error, "%s %.200s has no valid %s", what, s_shown (path), name);
        return ES_EINVAL;
    }
    return ES_OK;
}

#define SECRET_FILE "the secret key file"

static int s_secret_file (const char *path, char *public_key, char *secret_key, char *error)
{
    struct stat info;
    if (stat (path, &info) != 0) {
        es_format_error (error, "cannot read " SECRET_FILE " %.200s: %s", s_shown (path),
                         strerror (errno));
        return ES_EINVAL;
    }
    if (info.st_mode & (S_IRWXG | S_IRWXO)) {
        es_format_error (error, SECRET_FILE " %.200s is readable by group or others (chmod 600 it)",
                         s_shown (path));
        return ES_EINVAL;
    }
    if (s_zcert_key (path, "public-key", public_key, SECRET_FILE, error) != ES_OK ||
        s_zcert_key (path, "secret-key", secret_key, SECRET_FILE, error) != ES_OK)
        return ES_EINVAL;
    return ES_OK;
}

static int s_set (void *socket, int option, const void *value, size_t size, char *error)
{
    if (zmq_setsockopt (socket, option, value, size) != 0) {
        es_format_error (error, "CURVE is not available in this libzmq: %s", zmq_strerror (errno));
        return ES_EINVAL;
    }
    return ES_OK;
}

/*  The I-th of the N entries of VALUE (comma-separated when N > 1, spaces
    around an entry ignored), as a string in ENTRY (of VALUE's size).       */
static void s_entry (const char *value, size_t n, size_t i, char *entry)
{
    if (n == 1) {
        strcpy (entry, value);
        return;
    }
    const char *at = value;
    for (size_t skipped = 0; skipped < i; skipped++)
        at = strchr (at, ',') + 1;
    const char *end = strchr (at, ',');
    size_t length = end ? (size_t) (end - at) : strlen (at);
    while (length && (*at == ' ' || *at == '\t')) {
        at++;
        length--;
    }
    while (length && (at[length - 1] == ' ' || at[length - 1] == '\t'))
        length--;
    memcpy (entry, at, length);
    entry[length] = 0;
}

/*  How many server keys VALUE holds: one, or one per comma-separated entry.
    A whole value that names an existing file is one entry even with a comma
    in it, as it was before 1.3.                                             */
static size_t s_server_key_count (const char *value)
{
    size_t n = 1;
    for (const char *at = value; (at = strchr (at, ',')); at++)
        n++;
    struct stat info;
    if (n > 1 && stat (value, &info) == 0)
        n = 1;
    return n;
}

/*  Fills CURVE->server_keys from options->curve_server_key, one per
    connecting endpoint, the way core/curve/options.ts pairs them: one entry
    serves them all, else there must be one per connecting endpoint.        */
static int s_server_keys (const char *value, size_t connecting, es_curve_t *curve, char *error)
{
    size_t n = s_server_key_count (value);
    if (n > 1 && n != connecting) {
        es_format_error (error,
                         "%zu server keys (curve_server_key) for %zu %s: give one key for all, "
                         "or one per connecting endpoint in the order they are given",
                         n, connecting,
                         connecting == 1 ? "endpoint that connects" : "endpoints that connect");
        return ES_EINVAL;
    }
    char *entry = malloc (strlen (value) + 1);
    curve->server_keys = calloc (n, sizeof *curve->server_keys);
    if (!entry || !curve->server_keys) {
        free (entry);
        es_format_error (error, "out of memory");
        return ES_EINVAL;
    }
    curve->n_server_keys = n;
    for (size_t i = 0; i < n; i++) {
        s_entry (value, n, i, entry);
        char what[64] = "the server's public certificate";
        if (n > 1)
            snprintf (what, sizeof what, "the public certificate of server key %zu", i + 1);
        if (n > 1 && !*entry) {
            es_format_error (error, "curve_server_key: server key %zu is empty (a comma too many?)",
                             i + 1);
            free (entry);
            return ES_EINVAL;
        }
        if (s_is_z85_key (entry))
            strcpy (curve->server_keys[i], entry);
        else
        if (s_zcert_key (entry, "public-key", curve->server_keys[i], what, error) != ES_OK) {
            free (entry);
            return ES_EINVAL;
        }
    }
    free (entry);
    return ES_OK;
}

int es_curve_apply (void *socket, const es_options_t *options, size_t connecting,
                    es_curve_t *curve, char *error)
{
    char public_key[Z85_KEY + 1] = "", secret_key[Z85_KEY + 1] = "";
    *curve = (es_curve_t) {0};
    bool wanted = options->curve_server || options->curve_server_key ||
                  options->curve_secret_key || options->curve_secret_file;
    if (!wanted)
        return ES_OK;
    if (options->curve_secret_file) {
        if (s_secret_file (options->curve_secret_file, public_key, secret_key, error) != ES_OK)
            return ES_EINVAL;
    }
    else {
        if (options->curve_secret_key) {
            if (!s_is_z85_key (options->curve_secret_key)) {
                es_format_error (error, "the CURVE secret key is not 40 characters of Z85");
                return ES_EINVAL;
            }
            strcpy (secret_key, options->curve_secret_key);
            if (options->curve_public_key) {
                if (!s_is_z85_key (options->curve_public_key)) {
                    es_format_error (error, "the CURVE public key is not 40 characters of Z85");
                    return ES_EINVAL;
                }
                strcpy (public_key, options->curve_public_key);
            }
            else
            if (zmq_curve_public (public_key, secret_key) != 0) {
                es_format_error (error, "cannot derive the CURVE public key");
                return ES_EINVAL;
            }
        }
    }
    if (options->curve_server) {
        if (!*secret_key) {
            es_format_error (error, "a CURVE server needs curve_secret_key or curve_secret_file");
            return ES_EINVAL;
        }
        int on = 1;
        if (s_set (socket, ZMQ_CURVE_SERVER, &on, sizeof on, error) ||
            s_set (socket, ZMQ_CURVE_SECRETKEY, secret_key, Z85_KEY, error) ||
            s_set (socket, ZMQ_ZAP_DOMAIN, "eventstorm", 10, error))
            return ES_EINVAL;
        return ES_OK;
    }
    if (!options->curve_server_key) {
        es_format_error (error, "CURVE keys given without curve_server_key");
        return ES_EINVAL;
    }
    if (s_server_keys (options->curve_server_key, connecting, curve, error) != ES_OK) {
        es_curve_free (curve);
        return ES_EINVAL;
    }
    if (!*secret_key && zmq_curve_keypair (public_key, secret_key) != 0) {
        /* No own pair: an ephemeral one gives encryption (servers without
           --allow-keys admit it). */
        es_format_error (error, "CURVE is not available in this libzmq");
        es_curve_free (curve);
        return ES_EINVAL;
    }
    /* The first server key stands until a connect sets its own: what a
       binding endpoint gets, as before 1.3. */
    if (s_set (socket, ZMQ_CURVE_SERVERKEY, curve->server_keys[0], Z85_KEY, error) ||
        s_set (socket, ZMQ_CURVE_PUBLICKEY, public_key, Z85_KEY, error) ||
        s_set (socket, ZMQ_CURVE_SECRETKEY, secret_key, Z85_KEY, error)) {
        es_curve_free (curve);
        return ES_EINVAL;
    }
    return ES_OK;
}

int es_curve_connecting (void *socket, const es_curve_t *curve, size_t i, char *error)
{
    /* libzmq copies the socket's options into each connection at
       zmq_connect, so the key set now is the one this endpoint's handshake
       uses; later connects do not change it. */
    if (curve->n_server_keys < 2)
        return ES_OK;
    return s_set (socket, ZMQ_CURVE_SERVERKEY, curve->server_keys[i], Z85_KEY, error);
}

void es_curve_free (es_curve_t *curve)
{
    free (curve->server_keys);
    *curve = (es_curve_t) {0};
}
