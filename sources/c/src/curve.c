/*  CURVE options: Z85 keys given directly or read from CZMQ zcert files. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#define Z85_KEY 40
/*  Bytes of a curve_server_key entry's buffer: Linux's PATH_MAX, so that
    any file name the system could open fits, and a longer entry, which
    could be neither a key nor a file, is refused (es_list_next).           */
#define ENTRY_SIZE 4096

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

/*  Reads the next entry of curve_server_key (from LIST) into ENTRY
    (ENTRY_SIZE bytes):
    1, 0 at the end, or ES_EINVAL with ERROR naming the entry by its place
    only, as it may be a key.                                                */
static int s_next_key (es_list_t *list, char *entry, char *error)
{
    es_list_step_t step = es_list_next (list, entry, ENTRY_SIZE);
    if (step == ES_LIST_END || step == ES_LIST_ENTRY)
        return step == ES_LIST_ENTRY;
    bool alone = list->index == 1 && es_list_done (list);
    char detail[48] = "";
    if (step == ES_LIST_TOO_LONG)
        snprintf (detail, sizeof detail, " (over %d bytes)", ENTRY_SIZE - 1);
    else
    if (!alone)
        snprintf (detail, sizeof detail, " (a comma too many?)");
    const char *problem = step == ES_LIST_EMPTY ? "is empty" : "is too long";
    if (alone)
        es_format_error (error, "curve_server_key %s%s", problem, detail);
    else
        es_format_error (error, "curve_server_key: server key %zu %s%s", list->index, problem,
                         detail);
    return ES_EINVAL;
}

/*  Fills CURVE->server_keys from options->curve_server_key, one per
    connecting endpoint, the way core/curve/options.ts pairs them: one entry
    serves them all, else there must be one per connecting endpoint. The
    entries are read by the rule of every comma list (es_list_next), but a
    whole value that names an existing file is that file, commas and all,
    as it was before 1.3. Every entry is checked before the count, so that a
    comma too many is named as such.                                         */
static int s_server_keys (const char *value, size_t connecting, es_curve_t *curve, char *error)
{
    struct stat info;
    bool whole = stat (value, &info) == 0;
    char entry[ENTRY_SIZE];
    es_list_t list;
    size_t n = 1;
    int rc;
    if (!whole) {
        es_list_start (&list, value);
        for (n = 0; (rc = s_next_key (&list, entry, error)) == 1;)
            n++;
        if (rc != 0)
            return ES_EINVAL;
    }
    if (n > 1 && n != connecting) {
        es_format_error (error,
                         "%zu server keys (curve_server_key) for %zu %s: give one key for all, "
                         "or one per connecting endpoint in the order they are given",
                         n, connecting,
                         connecting == 1 ? "endpoint that connects" : "endpoints that connect");
        return ES_EINVAL;
    }
    curve->server_keys = calloc (n, sizeof *curve->server_keys);
    if (!curve->server_keys) {
        es_format_error (error, "out of memory");
        return ES_EINVAL;
    }
    curve->n_server_keys = n;
    es_list_start (&list, value);
    for (size_t i = 0; i < n; i++) {
        if (!whole && s_next_key (&list, entry, error) != 1)
            return ES_EINVAL;           /* not reached: the first pass read it */
        const char *text = whole ? value : entry;
        char what[64] = "the server's public certificate";
        if (n > 1)
            snprintf (what, sizeof what, "the public certificate of server key %zu", i + 1);
        if (s_is_z85_key (text))
            strcpy (curve->server_keys[i], text);
        else
        if (s_zcert_key (text, "public-key", curve->server_keys[i], what, error) != ES_OK)
            return ES_EINVAL;
    }
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
