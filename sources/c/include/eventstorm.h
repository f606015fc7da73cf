/*  =========================================================================
    eventstorm.h - libeventstorm, the C library of the eventstorm wire protocol v1

    Emit events (BSON over ZeroMQ) to an eventstorm router or to subscribers,
    and collect them with exact loss, duplicate and malformed accounting.
    Written from docs/protocol.md. Depends on libzmq and libbson only.

        #include <eventstorm.h>
        es_emitter_t *emitter = es_emitter_new (">tcp://127.0.0.1:5555", NULL);
        if (!emitter) { fprintf (stderr, "%s\n", es_last_error ()); return 1; }
        es_emit_json (emitter, "app.deploy", "{\"version\": \"1.2\"}");
        es_emitter_flush (emitter, 1000);
        es_emitter_destroy (&emitter);

    Build: cc app.c $(pkg-config --cflags --libs eventstorm), or with CMake
    find_package (eventstorm 1 CONFIG) and the target eventstorm::eventstorm.

    RETURN CODES. No function aborts, exits, prints or blocks longer than the
    timeout it is given. Functions returning int return ES_OK (0) or a
    negative ES_E* code (ES_EINVAL for a NULL object or out-parameter); the
    matching one-line message (never containing a secret key) is in
    es_emitter_error () / es_collector_error (), or in es_last_error () for
    constructors that returned NULL. Those also set errno (since 1.2), as
    CZMQ's do: EADDRINUSE for a bind whose address is taken (worth a retry),
    EINVAL for a bad argument, endpoint or key, ENOMEM, or libzmq's errno
    from creating the socket or attaching an endpoint.

    OPTIONS. In es_options_t, 0 always means the option's default, never
    "zero"; ES_NO_WAIT asks for no wait (linger_ms, close_timeout_ms,
    gap_hold_ms).

    THREADS. An emitter or collector is NOT thread-safe (like a libzmq socket):
    use each object from one thread at a time (one per thread, or your own
    lock). Distinct objects may be used from distinct threads. The library
    starts no thread of its own; libzmq runs its I/O thread(s) inside the
    ZeroMQ context each object creates (or the one given in es_options_t).

    TIME WITHOUT A THREAD. There is no timer thread: batches that waited
    linger_ms, subscription changes read from the XPUB socket, held messages
    and idle-topic position announcements are handled by es_emitter_tick and
    es_emitter_flush, and by es_emit* when a batch fills or the clock moved
    on by a millisecond since the last time (so a fast loop of emits costs
    no system call per event). A program that may stay idle calls
    es_emitter_tick at least every es_emitter_timeout () ms (e.g. from its
    event loop timer) or flushes when it goes idle; es_emitter_timeout ()
    is 0 only when a tick has work to do, so such a loop never spins.

    FORK. An emitter or collector belongs to the process that created it
    (detected by its pid, and by a pthread_atfork counter on the per-event
    path, where getpid () would cost a system call). In
    a child after fork () every call returns ES_EFORKED without touching the
    ZeroMQ sockets (which must not be used across fork); es_*_destroy in the
    child frees the object's memory only. Create objects after forking (nginx:
    in init_process of each worker).
    =========================================================================
*/
#ifndef EVENTSTORM_H_INCLUDED
#define EVENTSTORM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <bson/bson.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  The library's public functions, the only symbols its shared object
    exports (it is built with hidden visibility).                            */
#if defined (__GNUC__) && __GNUC__ >= 4
#   define ES_EXPORT __attribute__ ((visibility ("default")))
#else
#   define ES_EXPORT
#endif

#define ES_VERSION_MAJOR 1
#define ES_VERSION_MINOR 4
#define ES_VERSION_PATCH 0

/*  Return codes                                                             */
#define ES_OK 0
#define ES_EINVAL -1     /* bad argument: endpoint, type, JSON, field, key   */
#define ES_EFORKED -2    /* object used in a child process after fork ()     */
#define ES_ETIMEOUT -3   /* flush: events still held when the timeout passed */
#define ES_EOVERSIZED -4 /* the event is larger than max_event_bytes         */
#define ES_EZMQ -5       /* libzmq failed (message says why)                 */
#define ES_ENOMEM -6     /* out of memory                                    */
#define ES_ECLOSED -7    /* collector: closed, or the context was terminated  */
#define ES_EINTR -8      /* a signal interrupted the wait (es_collector_recv,
                            es_emitter_flush with -1): check your stop flag,
                            call again to go on                               */

/*  In es_options_t.linger_ms and close_timeout_ms: wait 0 ms (0 itself means
    the option's default). es_emitter_flush and es_collector_recv take it as
    0 too, so that one "no wait" value can go everywhere (-1 is forever
    there, and in linger_ms no time limit).                                  */
#define ES_NO_WAIT -2

/*  Protocol constants (docs/protocol.md)                                    */
#define ES_HEADER_SIZE 24
#define ES_MAGIC 0xE5
#define ES_PROTOCOL_VERSION 1
#define ES_MAX_TYPE_BYTES 255
#define ES_MAX_INDEX ((uint64_t) 1 << 53)          /* first must be below it */
#define ES_MAX_MESSAGE_BYTES (16 << 20)            /* a message, all frames, at most */
#define ES_DEFAULT_MAX_MESSAGE_BYTES ES_MAX_MESSAGE_BYTES /* receivers' ZMQ_MAXMSGSIZE */
/*  The largest event that fits in a message whatever its type: the most
    max_event_bytes and max_bytes can be (larger values are lowered to it). */
#define ES_MAX_EVENT_BYTES (ES_MAX_MESSAGE_BYTES - ES_HEADER_SIZE - ES_MAX_TYPE_BYTES)
#define ES_MAX_STREAMS 65536                       /* streams a collector remembers */
/*  Redundant paths (docs/protocol.md 5.2): how long a gap in a stream waits
    for another path to fill it before it counts as lost, and how many gaps
    a stream holds at most (one more counts the oldest lost at once).        */
#define ES_GAP_HOLD_MS 10000
#define ES_MAX_GAPS 256
/*  Messages libzmq queues per peer by default (es_options_t.send_hwm), as
    eventstorm's own sources do: what waits beyond, in a peer that pushes
    back, is held by the emitter within max_pending_bytes and counted when
    dropped, rather than in libzmq (1000 messages, up to 256 MiB, before
    1.4).                                                                    */
#define ES_SEND_HWM 64

/*  Why a received message was dropped: the reasons of docs/protocol.md,
    "Validation". es_drop_reason_name () gives the protocol's name. The
    collector also drops, as docs/security-notes.md says, a message whose
    index jumps further than any real sender can (ES_DROP_INDEX) and one
    that claims a source id another peer owns (ES_DROP_OWNER).              */
typedef enum {
    ES_DROP_NONE = 0,
    ES_DROP_FRAMES,
    ES_DROP_TOPIC,
    ES_DROP_HEADER_SIZE,
    ES_DROP_MAGIC,
    ES_DROP_VERSION,
    ES_DROP_FLAGS,
    ES_DROP_INDEX,
    ES_DROP_BSON,
    ES_DROP_OVERSIZED,
    ES_DROP_TRUNCATED,
    ES_DROP_COUNT,
    ES_DROP_OWNER,             /* collector: a source id another peer owns   */
    ES_DROP_REASONS            /* number of values, not a reason */
} es_drop_reason_t;

/*  Options of an emitter or a collector. Zero-initialise (or pass NULL) for
    the defaults: a 0 / NULL member always means its default, never "zero"
    (close_timeout_ms 0 waits the default 1000 ms). To ask for no wait at
    all, give ES_NO_WAIT to linger_ms or close_timeout_ms. Strings are
    copied.                                                                  */
typedef struct {
    const char *host;          /* envelope host of events that lack one;
                                  default: gethostname (). At most 255 bytes
                                  of UTF-8, else es_emitter_new fails        */
    size_t max_events;         /* events per message at most (default 1000)  */
    size_t max_bytes;          /* body bytes per message: a batch leaves when
                                  it reaches this (default 256 KiB; at most
                                  ES_MAX_EVENT_BYTES: no message passes the
                                  protocol's 16 MiB, whatever the options)   */
    int linger_ms;             /* how long a partial batch may wait (default
                                  100 ms; -1: only size and flush send it;
                                  ES_NO_WAIT: each event leaves at once, in
                                  a message of its own)                      */
    size_t max_event_bytes;    /* largest encoded event (default 1 MiB, at
                                  most ES_MAX_EVENT_BYTES); larger ones:
                                  ES_EOVERSIZED, counted as oversized        */
    size_t max_pending_bytes;  /* bytes held while nobody subscribes or peers
                                  push back; oldest dropped and counted past
                                  it (default 64 MiB; 1 holds only the
                                  newest message)                            */
    int send_hwm;              /* ZMQ_SNDHWM, messages libzmq queues per
                                  peer (default ES_SEND_HWM): past it the
                                  emitter holds them itself, bounded by
                                  max_pending_bytes                          */
    int announce_ms;           /* idle-topic position announcements (default
                                  1000 ms; -1 disables)                      */
    int close_timeout_ms;      /* how long close and destroy together keep
                                  sending what is held (default 1000 ms;
                                  ES_NO_WAIT, or any negative value: hand
                                  libzmq what it takes at once, then drop
                                  the rest, counted)                         */
    /* CURVE (docs: CURVE profile). Keys are Z85 text (40 characters).
       A connecting client gives the server's public key and its own pair;
       curve_secret_file (a CZMQ zcert secret file, mode 0600 or stricter)
       may replace curve_public_key + curve_secret_key, and curve_server_key
       may also name the server's public certificate file. With
       curve_server set (a binding emitter), the emitter is a CURVE server
       using curve_secret_key / curve_secret_file.
       Since 1.3 (ES_VERSION_MINOR 3) curve_server_key may hold several
       keys or certificate files separated by commas (Z85 has none), paired
       in order with the endpoints of ENDPOINTS that connect (binding ones
       take none), so that redundant routers may each have a key pair of
       their own: ">tcp://east:5555,>tcp://west:5555" with
       "EAST_KEY,/etc/eventstorm/west.pub". One entry serves every
       connecting endpoint, as before; any other count fails the
       constructor (EINVAL), as --curve-server does. The entries follow
       the rule of ENDPOINTS (see es_emitter_new), up to 4095 bytes each,
       and a refused one is named by its place only, never shown. A value
       without a comma, or one that names an existing file (commas and
       all, as before 1.3), is one entry.                                   */
    const char *curve_server_key;
    const char *curve_public_key;
    const char *curve_secret_key;
    const char *curve_secret_file;
    int curve_server;
    size_t max_message_bytes;  /* collector: ZMQ_MAXMSGSIZE (default 16 MiB) */
    int reserved_types;        /* emitter: 1 lets es_emit* send types of the
                                  eventstorm. namespace, which docs/protocol.md
                                  reserves to eventstorm's own components
                                  (the nginx module's eventstorm.stats);
                                  default 0: such a type is ES_EINVAL       */
    void *zmq_context;         /* share a ZeroMQ context (default: own one)  */
    /* Since 1.1 (ES_VERSION_MINOR 1), the only member added since 1.0: a
       program compiled against the 1.0 header passes a shorter struct, so
       rebuild it before linking it with this library.                       */
    int gap_hold_ms;           /* collector: how long a gap in a stream waits
                                  to be filled by another path before it is
                                  lost (docs/protocol.md 5.2). Default:
                                  ES_GAP_HOLD_MS when ENDPOINTS lists more
                                  than one endpoint, else none (a gap is lost
                                  at once); ES_NO_WAIT (or any negative
                                  value): none, whatever the endpoints      */
} es_options_t;

/*  Last error of a constructor that returned NULL, for this thread.         */
ES_EXPORT const char *es_last_error (void);

/*  The protocol name of a drop reason ("frames", "magic", ...).             */
ES_EXPORT const char *es_drop_reason_name (es_drop_reason_t reason);

/*  1 when TYPE is a valid event type (dotted lower case, <= 255 bytes).     */
ES_EXPORT int es_type_valid (const char *type, size_t length);

/*  ----------------------------------------------------------------------
    Emitter
    ---------------------------------------------------------------------- */
typedef struct es_emitter_t es_emitter_t;

/*  Counters of one topic of an emitter.                                     */
typedef struct {
    const char *topic;         /* valid until the emitter is destroyed       */
    uint64_t next_index;       /* next stream index on this topic            */
    uint64_t events;           /* accepted by es_emit*                       */
    uint64_t sent;             /* handed to libzmq                           */
    uint64_t dropped;          /* dropped: pending full or flush/close timeout */
    uint64_t unsubscribed;     /* not sent because no subscription wanted them */
    uint64_t pending;          /* accepted, not yet handed to libzmq         */
} es_topic_stats_t;

/*  Counters of an emitter (sums over topics, plus the per-event ones).      */
typedef struct {
    uint64_t events, sent, dropped, unsubscribed, pending;
    uint64_t messages;         /* messages handed to libzmq (with events)    */
    uint64_t announcements;    /* count-0 position messages handed to libzmq */
    uint64_t bytes;            /* body bytes handed to libzmq                */
    uint64_t oversized;        /* events refused: larger than max_event_bytes */
    uint64_t invalid;          /* events refused: bad type, JSON or envelope */
    size_t topics;             /* number of topics, for es_emitter_topic_stats */
    size_t subscriptions;      /* subscription prefixes currently held       */
} es_emitter_stats_t;

/*  Opens an emitter on ENDPOINTS, CZMQ style: "@tcp://0.0.0.0:5555" binds,
    ">tcp://host:5555" or a bare address connects, several separated by
    commas. Blanks around an entry are ignored; an empty entry (",,", a
    comma at either end, a list all blank) or one over 1023 bytes fails
    (EINVAL), never skipped or cut short. IPv6 addresses go in brackets
    ("@tcp://[::1]:5555"; "[::]" binds every address, IPv4 included);
    anything else, host names included, is IPv4 only. Returns NULL with
    es_last_error () on a bad endpoint or option. The socket is an XPUB:
    nothing is sent before a subscriber, and batches of a topic no
    subscription matches are not sent (counted unsubscribed).               */
ES_EXPORT es_emitter_t *es_emitter_new (const char *endpoints, const es_options_t *options);

/*  Sends what it holds (waiting up to close_timeout_ms for a subscriber or
    pushback to clear), then each topic's final position announcement; what
    is still held is counted as dropped. Frees everything and sets *self_p
    to NULL. Safe on NULL. es_emitter_close does the same but keeps the
    object so its final stats can be read.                                  */
ES_EXPORT void es_emitter_destroy (es_emitter_t **self_p);
ES_EXPORT int es_emitter_close (es_emitter_t *self);

/*  Emits one event of TYPE. FIELDS (may be NULL) are the event's own flat
    fields; `time` (a BSON date) and `host` (a string) are taken from FIELDS
    when present, else now and options.host; a `type` in FIELDS must equal
    TYPE. The document is type, time, host, then the other fields in order.
    TYPE is dotted lower case, outside the reserved eventstorm. namespace
    (see es_options_t.reserved_types). FIELDS are checked as receivers
    check them (docs/protocol.md, Validation step 6), so that no event makes
    them drop a message: a name or string that is not UTF-8, bytes that are
    not BSON, nesting deeper than 100 levels, or a date (as `time` or in any
    field) more than 8.64e15 ms from the epoch is ES_EINVAL. A refused event
    is counted as invalid (or oversized) and takes no stream index. Never
    blocks. Returns ES_OK when accepted (even if it is later dropped: see
    the stats), ES_EINVAL, ES_EOVERSIZED, ES_EFORKED, ES_ENOMEM.             */
ES_EXPORT int es_emit (es_emitter_t *self, const char *type, const bson_t *fields);

/*  Same, at TIME_MS (milliseconds since 1970 UTC, negative before) unless
    FIELDS has its own `time`: for a program that already holds the time
    (nginx's cached clock), without putting it into FIELDS, which would cost
    the event a rebuild.                                                     */
ES_EXPORT int es_emit_at (es_emitter_t *self, const char *type, int64_t time_ms, const bson_t *fields);

/*  Same, with FIELDS as the text of one JSON object (MongoDB Extended JSON
    accepted: {"time": {"$date": "2026-12-03T10:00:00Z"}}), with nothing but
    white space around it: anything else (an array, a second value) is
    ES_EINVAL. NULL or "" means {}.                                          */
ES_EXPORT int es_emit_json (es_emitter_t *self, const char *type, const char *json_object);

/*  Housekeeping without emitting: reads subscription changes, sends batches
    older than linger_ms, retries held messages, sends idle announcements.
    Never blocks. Returns ES_OK or an error code.                            */
ES_EXPORT int es_emitter_tick (es_emitter_t *self);

/*  Milliseconds until es_emitter_tick has work to do; -1: nothing timed (no
    open batch with a linger, no announcement a subscriber wants, nothing
    held). It is 0 only when work is due, and a tick does it: a loop that
    polls for this long and ticks never spins. While events are held and
    nobody subscribes it is at most 1000 (a subscription also wakes
    es_emitter_fd); while subscribers push back, at most 10.                 */
ES_EXPORT int es_emitter_timeout (es_emitter_t *self);

/*  The XPUB socket's ZMQ_FD, for an event loop that wants to call tick when
    subscriptions arrive (edge-triggered, like every ZMQ_FD). -1 on error.  */
ES_EXPORT int es_emitter_fd (es_emitter_t *self);

/*  Sends every partial batch and waits up to TIMEOUT_MS (0: do not wait,
    -1: forever) until everything held has been handed to libzmq. Returns
    ES_OK, or ES_ETIMEOUT when events are still held (e.g. no subscriber
    yet): they stay held, nothing is dropped. ES_NO_WAIT is 0; any other
    negative value is forever. With -1, a signal caught
    meanwhile (a handler installed without SA_RESTART) ends the wait with
    ES_EINTR, events still held; a bounded wait goes on to its timeout.      */
ES_EXPORT int es_emitter_flush (es_emitter_t *self, int timeout_ms);

/*  This emitter's source id (protocol header `source`): random and never 0,
    chosen by es_emitter_new. Each emitter numbers its topics from 0, so
    each gets an id of its own (docs/protocol.md 2.3: an id is never reused
    with a numbering that starts over); a restarted program is a new stream.
    0 for NULL.                                                              */
ES_EXPORT uint64_t es_emitter_source_id (es_emitter_t *self);

/*  Totals. Returns ES_OK or ES_EFORKED.                                     */
ES_EXPORT int es_emitter_stats (es_emitter_t *self, es_emitter_stats_t *stats);

/*  Counters of topic number I (0 <= I < stats.topics, in first-use order). */
ES_EXPORT int es_emitter_topic_stats (es_emitter_t *self, size_t i, es_topic_stats_t *stats);

/*  The message of the last error of this emitter ("" if none).             */
ES_EXPORT const char *es_emitter_error (es_emitter_t *self);

/*  The endpoint the socket last bound or connected to (libzmq's
    ZMQ_LAST_ENDPOINT), with the port the system chose for a "*" port
    ("@tcp://127.0.0.1:*" gives "tcp://127.0.0.1:41237"): bind to "*" and
    read it here instead of guessing a free port, which another program may
    take first. "" for NULL. Valid until the next call on SELF.              */
ES_EXPORT const char *es_emitter_endpoint (es_emitter_t *self);

/*  ----------------------------------------------------------------------
    Collector
    ---------------------------------------------------------------------- */
typedef struct es_collector_t es_collector_t;

/*  One delivered event; valid until the next es_collector_recv / destroy.  */
typedef struct {
    const char *topic;
    const bson_t *document;    /* the whole event, envelope included         */
    uint64_t source;           /* 0 for a two-frame message (no header)      */
    uint64_t index;            /* stream index (0 without header)            */
    int accounted;             /* 1 when the message had a header            */
    /* The message that carried the event, for per-message reports: */
    int first_in_message;      /* 1 for the first event delivered from it    */
    uint64_t first;            /* its header's first index                   */
    uint32_t count;            /* its number of documents                    */
    uint64_t lost;             /* events found lost just before it (0 when
                                  gaps are held: they are counted in the
                                  stats' lost when they expire)              */
    uint64_t duplicates;       /* its events skipped as replays              */
    /* A message that fills gaps another path left, with other events of it
       skipped as replays in between (redundant paths), is delivered in
       pieces, each reported as a message of its own, as core/collector.ts
       delivers them as batches: first_in_message starts each piece, first
       and count are the piece's, and only the first piece carries the
       message's duplicates. Filled events arrive after events with higher
       indexes: sort by (source, topic, index) if order matters.             */
} es_event_t;

/*  Counters of a collector (docs/protocol.md, "Accounting").               */
typedef struct {
    uint64_t messages;         /* messages received (valid or not)           */
    uint64_t events;           /* events delivered                           */
    uint64_t lost;             /* events lost upstream (gaps in an index; a
                                  held gap counts when it expires)           */
    uint64_t duplicates;       /* events skipped as replays                  */
    uint64_t malformed;        /* messages dropped by validation, or refused
                                  (a forged index, a foreign source)         */
    uint64_t rejected;         /* events dropped one by one (step 6): an
                                  invalid envelope, too deep, a far date     */
    uint64_t announcements;    /* count-0 messages                           */
    uint64_t unaccounted;      /* events of two-frame messages               */
    uint64_t streams;          /* streams currently remembered               */
    uint64_t by_reason[ES_DROP_REASONS]; /* malformed, per es_drop_reason_t  */
} es_collector_stats_t;

/*  Opens a collector: a SUB socket on ENDPOINTS (CZMQ style, as above)
    subscribed to each of the N_PREFIXES topic prefixes (NULL/0: everything;
    a NULL entry makes it fail). CURVE client options as for the emitter.

    Its accounting is core/sequence.ts's (docs/protocol.md 5): a stream is
    joined at its first message with events (an announcement of a stream
    never seen is ignored); a forward jump of more than 2^24 events plus
    2^24 a second since the stream's previous message is refused as
    malformed (index), the stream unchanged. A collector that only binds
    (its peers are sources) also judges owners, as docs/security-notes.md says: a
    source id belongs to the first peer heard sending it (a CURVE client's
    key, else its IP address), and another peer's messages under it are
    refused as malformed (owner) until the owner has been silent for 10
    minutes. A collector with any connected endpoint (to routers) does not
    judge owners.

    Given more than one endpoint (or a positive options->gap_hold_ms), it
    takes them for redundant paths carrying the same streams and holds gaps
    (docs/protocol.md 5.2): a forward jump opens a gap [expected, first)
    instead of counting it lost, and its message is delivered; the events
    of a later message that fall in an open gap, or at or after the
    expected index, are delivered and close those parts of the gap, the
    others are duplicates. A gap still open gap_hold_ms after it opened is
    lost, counted once (es_collector_stats and es_collector_recv count the
    gaps that expired, even with no further message); a stream holds at most
    ES_MAX_GAPS gaps, one more counts the oldest lost at once; a stream
    forgotten past ES_MAX_STREAMS counts its open gaps lost, and
    es_collector_close counts every gap still open lost.                     */
ES_EXPORT es_collector_t *es_collector_new (const char *endpoints, const char *const *prefixes,
                                            size_t n_prefixes, const es_options_t *options);

/*  Frees the collector; sets *self_p to NULL. Safe on NULL. It closes the
    collector first if es_collector_close was not called.                   */
ES_EXPORT void es_collector_destroy (es_collector_t **self_p);

/*  Closes the socket (and the ZeroMQ context the collector owns) but keeps
    the object, so that its final stats can be read, as es_emitter_close
    does for an emitter. Gaps still held for another path (docs/protocol.md
    5.2) count as lost now, since nothing can fill them any more: a program
    that reports its totals closes, then reads es_collector_stats. After it,
    es_collector_recv delivers what is left of the message in hand (its
    events are accounted already), then returns ES_ECLOSED. Calling it again
    does nothing. Returns ES_OK, ES_EINVAL (NULL) or ES_EFORKED. Since 1.2
    (ES_VERSION_MINOR 2).                                                    */
ES_EXPORT int es_collector_close (es_collector_t *self);

/*  Waits up to TIMEOUT_MS (-1: forever; 0 or ES_NO_WAIT: not at all) for
    the next event. Returns 1 with
    *EVENT filled, 0 on timeout, or a negative ES_E* code: ES_EINTR when a
    signal was caught meanwhile (a handler installed without SA_RESTART), so
    that a daemon can stop on SIGTERM (examples/receive.c); ES_ECLOSED after
    es_collector_close. Malformed messages, losses and duplicates are
    counted, never returned.                                                 */
ES_EXPORT int es_collector_recv (es_collector_t *self, es_event_t *event, int timeout_ms);

/*  The counters, also after es_collector_close. Returns ES_OK, ES_EINVAL or
    ES_EFORKED.                                                              */
ES_EXPORT int es_collector_stats (es_collector_t *self, es_collector_stats_t *stats);
ES_EXPORT const char *es_collector_error (es_collector_t *self);

/*  As es_emitter_endpoint, for the collector's socket.                     */
ES_EXPORT const char *es_collector_endpoint (es_collector_t *self);

/*  ----------------------------------------------------------------------
    Codec: the message format without sockets (used by the above; exposed
    for relays, archives, tests and fuzzing).
    ---------------------------------------------------------------------- */
typedef struct {
    const uint8_t *topic;
    size_t topic_size;
    int has_header;            /* 0 for a two-frame message                  */
    uint16_t flags;
    uint32_t count;
    uint64_t source;
    uint64_t first;
    const uint8_t *body;
    size_t body_size;
} es_message_t;

/*  Writes a 24-byte protocol header.                                        */
ES_EXPORT void es_header_encode (uint8_t header[ES_HEADER_SIZE], uint32_t count,
                                 uint64_t source, uint64_t first);

/*  Validates a message of N_FRAMES frames (steps 1-6 of "Validation", the
    per-document BSON check included, the envelope check excluded) and fills
    *MESSAGE with pointers into the frames. Returns ES_DROP_NONE or the
    reason to drop it.                                                       */
ES_EXPORT es_drop_reason_t es_message_decode (const uint8_t *const *frames,
                                              const size_t *sizes, size_t n_frames,
                                              es_message_t *message);

/*  Iterates the documents of a decoded body: set *OFFSET to 0, then each
    call fills *DOCUMENT (static, pointing into the body) and returns 1, or
    0 at the end.                                                            */
ES_EXPORT int es_message_next (const es_message_t *message, size_t *offset, bson_t *document);

/*  1 when DOCUMENT is an event a receiver delivers on TOPIC: `type` equals
    it, `time` is a BSON date, `host` a string, and (step 6 of "Validation")
    it nests no deeper than 100 levels and holds no date more than 8.64e15 ms
    from the epoch. 0 means: count it as rejected (0 also for a NULL
    DOCUMENT, or a NULL TOPIC with a size).                                  */
ES_EXPORT int es_envelope_valid (const bson_t *document, const uint8_t *topic, size_t topic_size);

#ifdef __cplusplus
}
#endif

#endif
