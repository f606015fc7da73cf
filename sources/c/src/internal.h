/*  Private helpers shared by the library's source files. */
#ifndef ES_INTERNAL_H_INCLUDED
#define ES_INTERNAL_H_INCLUDED

#include "eventstorm.h"

#include <stdarg.h>
#include <stdbool.h>

#define ES_ERROR_SIZE 256

/*  Furthest a datetime may lie from the epoch: a JavaScript Date's range.
    Receivers in TypeScript cannot hold more, so every receiver rejects it
    (docs/protocol.md, Validation step 6).                                   */
#define ES_MAX_DATE_MS 8640000000000000LL

/*  What a receiver makes of one BSON document (docs/protocol.md, Validation
    step 6).                                                                 */
typedef enum {
    SHAPE_MALFORMED,    /* not BSON, or a name or string not UTF-8: the
                           receiver drops the whole message (bson)           */
    SHAPE_OK,
    SHAPE_TOO_DEEP,     /* nests past 100 levels: the event is rejected      */
    SHAPE_FAR_DATE      /* a date past ES_MAX_DATE_MS: the event is rejected */
} es_shape_t;

/*  1 when TEXT is strict UTF-8 (what receivers accept in names and strings). */
bool es_utf8_check (const uint8_t *text, size_t size);

/*  The emitter's check of the fields it is given: the receivers' own walk
    (strict UTF-8, structure, depth, dates), and, for the rare types whose
    layout it does not read (regex, DBPointer, code with scope, old binary),
    every element through libbson's iterator, with their strings checked
    too. It refuses at least what receivers drop, at a fraction of the cost
    of bson_validate (about 1 us an event on libbson 1.23, which moreover
    does not check string values for UTF-8). *ENVELOPE: whether FIELDS has a
    top-level type, time or host (the emitter then builds the event).        */
es_shape_t es_fields_shape (const bson_t *fields, bool *envelope);

/*  Formats a one-line message into BUFFER (ES_ERROR_SIZE bytes).            */
void es_format_error (char *buffer, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

/*  Sets the thread's es_last_error () and returns NULL, for constructors. */
void *es_fail (const char *format, ...) __attribute__ ((format (printf, 1, 2)));
/*  Sets errno to CODE and returns NULL: a constructor's cleanup may change errno. */
void *es_null_errno (int code);

/*  A comma-separated list read entry by entry: the one rule ENDPOINTS and
    curve_server_key share. Blanks (space, tab, CR, LF, VT, FF) around an
    entry are not part of it. Every entry must hold something, so ",,", a
    comma at either end and a list all blank are refused rather than
    skipped (a skipped one would shift the pairing of server keys with
    endpoints), and so is an entry that does not fit the caller's buffer:
    cut short, it would name another endpoint or file.                       */
typedef struct {
    const char *next;          /* where the next entry starts; NULL past the
                                  last                                       */
    size_t index;              /* 1-based place of the entry last read       */
} es_list_t;

typedef enum {
    ES_LIST_END,               /* no entry left                              */
    ES_LIST_ENTRY,             /* the entry is in the caller's buffer        */
    ES_LIST_EMPTY,             /* it is blank (errno EINVAL)                 */
    ES_LIST_TOO_LONG           /* it needs the whole buffer or more, its NUL
                                  not counted (errno EINVAL)                 */
} es_list_step_t;

/*  Starts reading TEXT: "" is one empty entry, NULL no entry at all.        */
void es_list_start (es_list_t *list, const char *text);

/*  Reads the next entry into ENTRY (SIZE bytes, at most SIZE - 1 of text).
    On ES_LIST_EMPTY or ES_LIST_TOO_LONG, ENTRY is "" and LIST->index names
    the bad entry for the caller's message, which must not quote a value
    that may be a key.                                                       */
es_list_step_t es_list_next (es_list_t *list, char *entry, size_t size);

/*  Whether the entry last read was the list's last (a list of one, when its
    index is 1).                                                             */
static inline bool es_list_done (const es_list_t *list)
{
    return list->next == NULL;
}

/*  Bytes of an endpoint's buffer: an entry of ENDPOINTS is at most one less. */
#define ES_ENDPOINT_SIZE 1024

/*  Fork detection: a counter bumped in every child by pthread_atfork.       */
unsigned es_fork_generation (void);

/*  Milliseconds of the monotonic and the real-time clocks.                  */
int64_t es_monotonic_ms (void);
int64_t es_realtime_ms (void);
/*  The monotonic clock at its tick's resolution (a few ms), cheaper. */
int64_t es_coarse_ms (void);

/*  A socket and its ZeroMQ context (the options' one, or its own).        */
typedef struct {
    void *context;
    bool own_context;
    void *socket;
    char endpoint[256];        /* filled by es_link_endpoint                 */
} es_link_t;

/*  Creates the context if needed and a socket of TYPE (linger 0). Returns
    ES_OK, or ES_EZMQ with ERROR filled.                                     */
int es_link_open (es_link_t *link, const es_options_t *options, int type, char *error);

/*  Applies the CURVE options, then binds or connects to each CZMQ-style
    endpoint of ENDPOINTS (IPv6 included: tcp://[::1]:PORT). Returns ES_OK
    or ES_EINVAL with ERROR filled.                                          */
int es_link_attach (es_link_t *link, const es_options_t *options, const char *endpoints,
                    char *error);

/*  The socket's ZMQ_LAST_ENDPOINT, kept in LINK->endpoint ("" if none).   */
const char *es_link_endpoint (es_link_t *link);

/*  Closes the socket and the context it owns.                              */
void es_link_close (es_link_t *link);

/*  The server keys of a CURVE client socket: one for every connecting
    endpoint, or one per connecting endpoint, in order.                      */
typedef struct {
    size_t n_server_keys;
    char (*server_keys)[41];
} es_curve_t;

/*  Applies the CURVE options to SOCKET before it binds or connects to
    ENDPOINTS, of which CONNECTING connect; fills CURVE (es_curve_free it).
    Returns ES_OK or ES_EINVAL with ERROR filled (never naming a key).       */
int es_curve_apply (void *socket, const es_options_t *options, size_t connecting,
                    es_curve_t *curve, char *error);

/*  Sets the server key of the I-th connecting endpoint on SOCKET, just
    before its zmq_connect. Returns ES_OK or ES_EINVAL with ERROR filled.   */
int es_curve_connecting (void *socket, const es_curve_t *curve, size_t i, char *error);

void es_curve_free (es_curve_t *curve);

static inline uint32_t es_le32 (const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 |
           (uint32_t) p[3] << 24;
}

static inline uint64_t es_le64 (const uint8_t *p)
{
    return (uint64_t) es_le32 (p) | (uint64_t) es_le32 (p + 4) << 32;
}

#endif
