/*  The emitter against a plain libzmq SUB socket, checked on the wire. */
#define _DEFAULT_SOURCE
#include "check.h"
#include "curve_server.h"
#include <eventstorm.h>
#include <errno.h>
#include <string.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <unistd.h>
#include <time.h>
#include <zmq.h>

static int64_t s_now_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

typedef struct {
    char topic[256];
    int frames;
    es_message_t message;
    uint8_t header[ES_HEADER_SIZE];
    uint8_t body[1 << 20];
} received_t;

static received_t received;

/*  Receives one message within TIMEOUT_MS: 1, or 0 when none came. */
static int s_receive (void *sub, int timeout_ms)
{
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return 0;
    size_t sizes[3] = {0, 0, 0};
    int more = 1, n = 0;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        CHECK (zmq_msg_recv (&part, sub, 0) >= 0);
        more = zmq_msg_more (&part);
        void *target = n == 0 ? (void *) received.topic : n == 1 ? (void *) received.header
                                                                 : (void *) received.body;
        size_t room = n == 0 ? 255 : n == 1 ? ES_HEADER_SIZE : sizeof received.body;
        CHECK (zmq_msg_size (&part) <= room);
        if (n < 3) {
            memcpy (target, zmq_msg_data (&part), zmq_msg_size (&part));
            sizes[n] = zmq_msg_size (&part);
        }
        zmq_msg_close (&part);
        n++;
    }
    received.topic[sizes[0]] = 0;
    received.frames = n;
    const uint8_t *frames[3] = {(uint8_t *) received.topic, received.header, received.body};
    CHECK_EQ (es_message_decode (frames, sizes, (size_t) n, &received.message), ES_DROP_NONE);
    return 1;
}

static void *s_subscriber (void *context, const char *endpoint, const char *prefix)
{
    void *sub = zmq_socket (context, ZMQ_SUB);
    CHECK (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, prefix, strlen (prefix)) == 0);
    CHECK (zmq_connect (sub, endpoint) == 0);
    return sub;
}

static void s_holds_until_subscribed_and_envelope (void *context)
{
    es_options_t options = {.zmq_context = context, .host = "web1", .linger_ms = -1};
    es_emitter_t *emitter = es_emitter_new ("@inproc://held", &options);
    CHECK (emitter);
    CHECK (es_emitter_source_id (emitter) != 0);
    /* Every emitter numbers from 0, so none may share an id (protocol 2.3):
       a second one, as a restarted program makes, gets a new one. */
    es_emitter_t *again = es_emitter_new ("@inproc://held-again", &options);
    CHECK (again);
    CHECK (es_emitter_source_id (again) != 0);
    CHECK (es_emitter_source_id (again) != es_emitter_source_id (emitter));
    es_emitter_destroy (&again);
    CHECK_EQ (es_emitter_source_id (NULL), 0);
    for (int n = 0; n < 5; n++)
        CHECK_EQ (es_emit_json (emitter, "app.deploy", "{\"version\": \"1.2\", \"n\": 7}"), ES_OK);
    CHECK_EQ (es_emit_json (emitter, "other.thing", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 50), ES_ETIMEOUT);
    CHECK (strstr (es_emitter_error (emitter), "no subscriber"));
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.pending, 6);
    CHECK_EQ (stats.sent, 0);

    void *sub = s_subscriber (context, "inproc://held", "app.");
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (received.frames, 3);
    CHECK_EQ (strcmp (received.topic, "app.deploy"), 0);
    CHECK_EQ (received.message.count, 5);
    CHECK_EQ (received.message.first, 0);
    CHECK (received.message.source == es_emitter_source_id (emitter));
    size_t offset = 0;
    bson_t doc;
    CHECK (es_message_next (&received.message, &offset, &doc));
    char *json = bson_as_relaxed_extended_json (&doc, NULL);
    /* The envelope first, in protocol order, then the fields in theirs. */
    CHECK (strncmp (json, "{ \"type\" : \"app.deploy\", \"time\" : { \"$date\" : ", 45) == 0);
    CHECK (strstr (json, "\"host\" : \"web1\", \"version\" : \"1.2\", \"n\" : 7 }"));
    bson_free (json);
    CHECK (!s_receive (sub, 100));      /* other.thing: nobody wanted it */
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.sent, 5);
    CHECK_EQ (stats.unsubscribed, 1);
    CHECK_EQ (stats.pending, 0);
    CHECK_EQ (stats.messages, 1);
    CHECK_EQ (stats.topics, 2);
    es_topic_stats_t topic;
    CHECK_EQ (es_emitter_topic_stats (emitter, 1, &topic), ES_OK);
    CHECK_EQ (strcmp (topic.topic, "other.thing"), 0);
    CHECK_EQ (topic.unsubscribed, 1);
    CHECK_EQ (topic.next_index, 1);
    CHECK_EQ (es_emitter_topic_stats (emitter, 2, &topic), ES_EINVAL);

    /* Closing announces each topic's next index. */
    es_emitter_close (emitter);
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (strcmp (received.topic, "app.deploy"), 0);
    CHECK_EQ (received.message.count, 0);
    CHECK_EQ (received.message.first, 5);
    es_emitter_destroy (&emitter);
    CHECK (emitter == NULL);
    zmq_close (sub);
}

/*  es_emit_at: the given time, before 1970 too, on the plain path and the
    built one; a time in the fields wins.                                    */
static void s_emits_at_a_given_time (void *context)
{
    es_options_t options = {.zmq_context = context, .host = "web1", .linger_ms = -1};
    es_emitter_t *emitter = es_emitter_new ("@inproc://at", &options);
    CHECK (emitter);
    void *sub = s_subscriber (context, "inproc://at", "app.");
    bson_t *fields = BCON_NEW ("n", BCON_INT32 (1));
    bson_t *timed = BCON_NEW ("time", BCON_DATE_TIME (42), "n", BCON_INT32 (2));
    bson_t *hosted = BCON_NEW ("host", BCON_UTF8 ("other"), "n", BCON_INT32 (3));
    CHECK_EQ (es_emit_at (emitter, "app.at", 1700000000123, fields), ES_OK);
    CHECK_EQ (es_emit_at (emitter, "app.at", -86400000, fields), ES_OK);
    CHECK_EQ (es_emit_at (emitter, "app.at", 7, timed), ES_OK);
    CHECK_EQ (es_emit_at (emitter, "app.at", 99, hosted), ES_OK);
    CHECK_EQ (es_emit_at (emitter, "app.at", 5, NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (received.message.count, 5);
    int64_t expected[] = {1700000000123, -86400000, 42, 99, 5};
    size_t offset = 0;
    for (int i = 0; i < 5; i++) {
        bson_t doc;
        bson_iter_t iter;
        CHECK (es_message_next (&received.message, &offset, &doc));
        CHECK (bson_iter_init_find (&iter, &doc, "time") && BSON_ITER_HOLDS_DATE_TIME (&iter));
        CHECK_EQ (bson_iter_date_time (&iter), expected[i]);
    }
    bson_destroy (fields);
    bson_destroy (timed);
    bson_destroy (hosted);
    es_emitter_destroy (&emitter);
    zmq_close (sub);
}

static void s_batches_by_size_and_time (void *context)
{
    es_options_t options = {.zmq_context = context, .max_events = 3, .linger_ms = 30,
                            .announce_ms = 60};
    es_emitter_t *emitter = es_emitter_new ("@inproc://batches", &options);
    CHECK (emitter);
    void *sub = s_subscriber (context, "inproc://batches", "");
    CHECK_EQ (es_emit (emitter, "app.a", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);   /* subscribed now */
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (received.message.count, 1);
    for (int n = 0; n < 7; n++)
        CHECK_EQ (es_emit (emitter, "app.a", NULL), ES_OK);
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (received.message.count, 3);
    CHECK_EQ (received.message.first, 1);
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (received.message.count, 3);
    CHECK_EQ (received.message.first, 4);
    CHECK (!s_receive (sub, 5));        /* the 7th waits for linger_ms */
    CHECK (es_emitter_timeout (emitter) <= 30);
    usleep (40 * 1000);
    CHECK_EQ (es_emitter_tick (emitter), ES_OK);
    CHECK (s_receive (sub, 2000));
    CHECK_EQ (received.message.count, 1);
    CHECK_EQ (received.message.first, 7);
    /* Idle: a position announcement every announce_ms. */
    for (int i = 0; i < 2; i++) {
        usleep (70 * 1000);
        CHECK_EQ (es_emitter_tick (emitter), ES_OK);
        CHECK (s_receive (sub, 2000));
        CHECK_EQ (received.message.count, 0);
        CHECK_EQ (received.message.first, 8);
        CHECK_EQ (received.frames, 3);
    }
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.announcements, 2);
    CHECK_EQ (stats.messages, 4);
    es_emitter_destroy (&emitter);
    zmq_close (sub);
}

static void s_refuses_bad_events (void *context)
{
    es_options_t options = {.zmq_context = context, .max_event_bytes = 200};
    es_emitter_t *emitter = es_emitter_new ("@inproc://bad", &options);
    CHECK (emitter);
    CHECK_EQ (es_emit (emitter, "Bad Type", NULL), ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "invalid event type"));
    CHECK_EQ (es_emit (emitter, NULL, NULL), ES_EINVAL);
    /* docs/protocol.md 2.1: the eventstorm. namespace is eventstorm's own. */
    CHECK_EQ (es_emit (emitter, "eventstorm.stats", NULL), ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "reserved"));
    CHECK_EQ (es_emit (emitter, "eventstorm", NULL), ES_OK);       /* not the namespace */
    CHECK_EQ (es_emit (emitter, "eventstorms.x", NULL), ES_OK);
    CHECK_EQ (es_emit_json (emitter, "app.x", "{not json"), ES_EINVAL);
    /* One JSON object, nothing else: an array is not one, nor are two. */
    CHECK_EQ (es_emit_json (emitter, "app.x", "[1, 2]"), ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "not one JSON object"));
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"a\": 1} {\"b\": 2}"), ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "more than one"));
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"a\": 1} 5"), ES_EINVAL);
    CHECK_EQ (es_emit_json (emitter, "app.x", "5"), ES_EINVAL);
    CHECK_EQ (es_emit_json (emitter, "app.x", " \n{\"a\": [1, {\"b\": 2}]}\n "), ES_OK);
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"type\": \"app.y\"}"), ES_EINVAL);
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"time\": 5}"), ES_EINVAL);
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"host\": 5}"), ES_EINVAL);
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"type\": \"app.x\", \"host\": \"h\", "
                                              "\"time\": {\"$date\": 5}}"), ES_OK);
    /* A time no receiver holds, given or in the fields; the edge is fine. */
    CHECK_EQ (es_emit_at (emitter, "app.x", 8640000000000001LL, NULL), ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "beyond what receivers hold"));
    CHECK_EQ (es_emit_json (emitter, "app.x", "{\"time\": {\"$date\": "
                                              "{\"$numberLong\": \"-8640000000000001\"}}}"),
              ES_EINVAL);
    CHECK_EQ (es_emit_at (emitter, "app.x", -8640000000000000LL, NULL), ES_OK);
    char big[400];
    snprintf (big, sizeof big, "{\"text\": \"%0300d\"}", 1);
    CHECK_EQ (es_emit_json (emitter, "app.x", big), ES_EOVERSIZED);
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.invalid, 13);
    CHECK_EQ (stats.oversized, 1);
    CHECK_EQ (stats.events, 5);
    es_emitter_destroy (&emitter);
    es_options_t component = {.zmq_context = context, .reserved_types = 1, .close_timeout_ms = -1};
    emitter = es_emitter_new ("@inproc://component", &component);
    CHECK (emitter);
    CHECK_EQ (es_emit (emitter, "eventstorm.stats", NULL), ES_OK);
    es_emitter_destroy (&emitter);

    CHECK (es_emitter_new ("", NULL) == NULL);
    CHECK (strstr (es_last_error (), "no endpoint"));
    CHECK (es_emitter_new ("@nope://x", &options) == NULL);
    CHECK (strstr (es_last_error (), "cannot bind nope://x"));
    es_options_t curve = {.zmq_context = context, .curve_server_key = "short"};
    CHECK (es_emitter_new (">inproc://curve", &curve) == NULL);
    CHECK (strstr (es_last_error (), "cannot read the server's public certificate short"));
    /* A secret certificate readable by others is refused, the key unprinted. */
    char path[] = "/tmp/es_secret_XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    const char *secret_key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    dprintf (fd, "curve\n    public-key = \"rq:rM>}U?@Lns47E1%%kR.o@n%%FcmmsL/@{H8]yf7\"\n"
                 "    secret-key = \"%s\"\n", secret_key);
    close (fd);
    chmod (path, 0644);
    es_options_t leaky = {.zmq_context = context, .curve_server_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
                          .curve_secret_file = path};
    CHECK (es_emitter_new (">inproc://curve", &leaky) == NULL);
    CHECK (strstr (es_last_error (), "the secret key file"));
    CHECK (strstr (es_last_error (), "readable by group or others"));
    CHECK (strstr (es_last_error (), path));
    CHECK (!strstr (es_last_error (), secret_key));
    /* The key text where its file is expected (perhaps after a directory, as
       nginx makes it): never echoed. Nor in the server key's place, when it
       is 40 characters of Z85 that do not decode. */
    char public_text[41], secret_text[41], in_directory[128];
    CHECK (zmq_curve_keypair (public_text, secret_text) == 0);
    snprintf (in_directory, sizeof in_directory, "/etc/eventstorm/%s", secret_text);
    const char *as_files[] = {secret_text, in_directory};
    for (int i = 0; i < 2; i++) {
        es_options_t mistaken = leaky;
        mistaken.curve_secret_file = as_files[i];
        CHECK (es_emitter_new (">inproc://curve", &mistaken) == NULL);
        CHECK (strstr (es_last_error (), "cannot read the secret key file"));
        CHECK (!strstr (es_last_error (), secret_text));
        /* A key may hold a "/": what is after it is no file either. */
        CHECK (strstr (es_last_error (), ": No such file") || strstr (es_last_error (), ": Not a"));
    }
    const char *undecodable = "########################################";
    es_options_t server = {.zmq_context = context, .curve_server_key = undecodable};
    CHECK (es_emitter_new (">inproc://curve", &server) == NULL);
    CHECK (strstr (es_last_error (), "cannot read the server's public certificate"));
    CHECK (!strstr (es_last_error (), undecodable));
    server.curve_server_key = "/no/such/dir/router_secret";        /* an ordinary path */
    CHECK (es_emitter_new (">inproc://curve", &server) == NULL);
    CHECK (strstr (es_last_error (), "/no/such/dir/router_secret: No such file"));
    chmod (path, 0600);
    es_emitter_t *curved = es_emitter_new (">inproc://curve", &leaky);
    CHECK (curved);
    es_emitter_destroy (&curved);
    unlink (path);
}

/*  What receivers would drop is refused at es_emit: one name or string that
    is not UTF-8 makes them drop the whole message, so it must never reach a
    batch; the events around it go out, and the message decodes.            */
static void s_refuses_what_receivers_drop (void *context)
{
    es_options_t options = {.zmq_context = context, .host = "web1", .linger_ms = -1};
    es_emitter_t *emitter = es_emitter_new ("@inproc://utf8", &options);
    CHECK (emitter);
    void *sub = s_subscriber (context, "inproc://utf8", "app.");
    CHECK_EQ (es_emit (emitter, "app.u", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    CHECK (s_receive (sub, 2000));

    bson_t fields = BSON_INITIALIZER;
    bson_append_utf8 (&fields, "path", -1, "/a\xff" "b", -1);          /* a value */
    CHECK_EQ (es_emit (emitter, "app.u", &fields), ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "not UTF-8"));
    bson_reinit (&fields);
    bson_append_int32 (&fields, "caf\xe9", -1, 1);                   /* a name */
    CHECK_EQ (es_emit (emitter, "app.u", &fields), ES_EINVAL);
    bson_reinit (&fields);
    bson_append_utf8 (&fields, "s", -1, "\xed\xa0\x80", -1);           /* a surrogate */
    CHECK_EQ (es_emit (emitter, "app.u", &fields), ES_EINVAL);
    bson_reinit (&fields);
    bson_t child;
    bson_append_document_begin (&fields, "nested", -1, &child);       /* one level down */
    bson_append_utf8 (&child, "x", -1, "\xc3", -1);
    bson_append_document_end (&fields, &child);
    CHECK_EQ (es_emit (emitter, "app.u", &fields), ES_EINVAL);
    bson_reinit (&fields);
    bson_append_utf8 (&fields, "host", -1, "h\xff", -1);              /* the envelope's */
    CHECK_EQ (es_emit (emitter, "app.u", &fields), ES_EINVAL);
    CHECK_EQ (es_emit_at (emitter, "app.new", 5, &fields), ES_EINVAL);
    bson_reinit (&fields);
    bson_append_regex (&fields, "re", -1, "a\xff", "i");               /* a rare type */
    CHECK_EQ (es_emit (emitter, "app.u", &fields), ES_EINVAL);
    bson_destroy (&fields);
    /* A bool that is neither 0 nor 1: not BSON to libbson's reader. */
    const uint8_t bad_bool[] = {9, 0, 0, 0, 0x08, 'b', 0, 2, 0};
    bson_t *raw = bson_new_from_data (bad_bool, sizeof bad_bool);
    CHECK (raw);
    CHECK_EQ (es_emit (emitter, "app.u", raw), ES_EINVAL);
    bson_destroy (raw);
    bson_t zeroed = {0};                        /* never initialised by libbson */
    CHECK_EQ (es_emit (emitter, "app.u", &zeroed), ES_EINVAL);
    /* JSON and its strings go the same way. */
    CHECK_EQ (es_emit_json (emitter, "app.u", "{\"k\": \"\xff\"}"), ES_EINVAL);
    CHECK_EQ (es_emit_json (emitter, "app.u", "{\"\xff\": 1}"), ES_EINVAL);
    /* A date no receiver holds, deep in the fields as well as in `time`. */
    CHECK_EQ (es_emit_json (emitter, "app.u", "{\"a\": {\"expires\": {\"$date\": "
                                              "{\"$numberLong\": \"9000000000000000\"}}}}"),
              ES_EINVAL);
    CHECK (strstr (es_emitter_error (emitter), "beyond what receivers hold"));
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.invalid, 12);
    CHECK_EQ (stats.topics, 1);     /* app.new refused before it got a topic */

    /* Valid UTF-8 of every length passes. */
    CHECK_EQ (es_emit_json (emitter, "app.u", "{\"caf\\u00e9\": \"\\u00e9\\u20ac\\ud83d\\ude00\"}"),
              ES_OK);
    CHECK_EQ (es_emit (emitter, "app.u", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    CHECK (s_receive (sub, 2000));              /* es_message_decode: ES_DROP_NONE */
    CHECK_EQ (received.message.count, 2);
    CHECK_EQ (received.message.first, 1);       /* refused events took no index */
    es_emitter_destroy (&emitter);
    zmq_close (sub);

    /* The host option: cut mid-character by a buffer, or not UTF-8, it
       would spoil every message; the constructor refuses it. */
    char host[301];
    for (int i = 0; i < 300; i += 2)
        memcpy (host + i, "\xc3\xa9", 2);
    host[300] = 0;
    es_options_t bad_host = {.zmq_context = context, .host = host};
    CHECK (es_emitter_new ("@inproc://host", &bad_host) == NULL);
    CHECK (strstr (es_last_error (), "host is 300 bytes long"));
    bad_host.host = "caf\xe9";
    CHECK (es_emitter_new ("@inproc://host", &bad_host) == NULL);
    CHECK (strstr (es_last_error (), "host is not valid UTF-8"));
    bad_host.host = host + 300 - 254;           /* 127 characters, 254 bytes */
    es_emitter_t *fine = es_emitter_new ("@inproc://host", &bad_host);
    CHECK (fine);
    es_emitter_destroy (&fine);
}

/*  An event loop that waits es_emitter_timeout () ms and ticks, as the
    header advises, for MS milliseconds: how many times it woke.            */
static int s_event_loop (es_emitter_t *emitter, int ms)
{
    int wakeups = 0;
    for (int64_t start = s_now_ms (); s_now_ms () - start < ms; wakeups++) {
        int timeout = es_emitter_timeout (emitter);
        poll (NULL, 0, timeout < 0 || timeout > 50 ? 50 : timeout);
        CHECK_EQ (es_emitter_tick (emitter), ES_OK);
    }
    return wakeups;
}

/*  Nothing to announce (nobody subscribes, nobody wants the topic, or a
    batch is open with no linger): no deadline that stays in the past.     */
static void s_timeout_does_not_spin (void *context)
{
    es_options_t options = {.zmq_context = context, .linger_ms = 5, .announce_ms = 20,
                            .close_timeout_ms = -1};
    es_emitter_t *emitter = es_emitter_new ("@inproc://spin", &options);
    CHECK (emitter);
    CHECK_EQ (es_emitter_timeout (emitter), -1);
    CHECK_EQ (es_emit (emitter, "app.a", NULL), ES_OK);
    CHECK (es_emitter_timeout (emitter) <= 5);          /* the batch's linger */
    CHECK (s_event_loop (emitter, 150) < 20);            /* held, nobody subscribes */
    CHECK (es_emitter_timeout (emitter) > 20);

    /* A subscriber of app. only; other.x was sent nowhere. */
    void *sub = s_subscriber (context, "inproc://spin", "app.");
    CHECK_EQ (es_emit (emitter, "other.x", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    CHECK (s_event_loop (emitter, 150) < 40);            /* app.a announced every 20 ms */
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK (stats.announcements >= 3);
    es_emitter_destroy (&emitter);

    /* linger_ms -1: an open batch waits for its size or a flush, and holds
       the topic's announcements back. */
    options.linger_ms = -1;
    emitter = es_emitter_new ("@inproc://spin2", &options);
    CHECK (emitter);
    void *all = s_subscriber (context, "inproc://spin2", "");
    CHECK_EQ (es_emit (emitter, "app.b", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    CHECK (s_receive (all, 2000));
    CHECK_EQ (es_emit (emitter, "app.b", NULL), ES_OK);
    CHECK (s_event_loop (emitter, 100) < 20);
    CHECK_EQ (es_emitter_timeout (emitter), -1);
    es_emitter_destroy (&emitter);
    zmq_close (sub);
    zmq_close (all);
}

/*  close_timeout_ms bounds close and destroy together: the flush and the
    linger libzmq gets for what it queued share it. A subscriber that never
    reads keeps everything held for the whole time.                         */
static void s_destroy_keeps_to_close_timeout (void)
{
    es_options_t options = {.send_hwm = 1, .close_timeout_ms = 300};
    es_emitter_t *emitter = es_emitter_new ("@tcp://127.0.0.1:*", &options);
    CHECK (emitter);
    void *context = zmq_ctx_new ();
    void *sub = zmq_socket (context, ZMQ_SUB);
    int one = 1, small = 4096;
    zmq_setsockopt (sub, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt (sub, ZMQ_RCVBUF, &small, sizeof small);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    CHECK (zmq_connect (sub, es_emitter_endpoint (emitter)) == 0);
    CHECK_EQ (es_emit (emitter, "app.stuck", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    size_t size = 1000 * 1000;
    char *text = malloc (size + 1);
    CHECK (text);
    memset (text, 'x', size);
    text[size] = 0;
    bson_t fields = BSON_INITIALIZER;
    bson_append_utf8 (&fields, "blob", -1, text, (int) size);
    for (int n = 0; n < 16; n++) {
        CHECK_EQ (es_emit (emitter, "app.stuck", &fields), ES_OK);
        es_emitter_tick (emitter);
    }
    bson_destroy (&fields);
    free (text);
    int64_t start = s_now_ms ();
    CHECK_EQ (es_emitter_close (emitter), ES_OK);
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK (stats.dropped > 0);                  /* it waited the whole timeout */
    es_emitter_destroy (&emitter);              /* and libzmq's linger: what is left */
    CHECK (s_now_ms () - start < 450);          /* once, not twice */
    zmq_close (sub);
    zmq_ctx_term (context);
}

/*  0 in an option is its default; ES_NO_WAIT asks for no wait: an event
    leaves at emit, and destroy waits for nothing.                          */
static void s_no_wait (void *context)
{
    es_options_t options = {.zmq_context = context, .linger_ms = ES_NO_WAIT,
                            .close_timeout_ms = ES_NO_WAIT};
    es_emitter_t *emitter = es_emitter_new ("@inproc://nowait", &options);
    CHECK (emitter);
    void *sub = s_subscriber (context, "inproc://nowait", "app.");
    CHECK_EQ (es_emit (emitter, "app.now", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);  /* the subscription is in */
    CHECK (s_receive (sub, 2000));
    for (int n = 1; n <= 3; n++) {
        CHECK_EQ (es_emit (emitter, "app.now", NULL), ES_OK);     /* no flush, no tick */
        CHECK (s_receive (sub, 2000));
        CHECK_EQ (received.message.count, 1);
        CHECK_EQ (received.message.first, n);
    }
    CHECK (es_emitter_timeout (emitter) > 900);      /* only the idle announcement */
    es_emitter_destroy (&emitter);
    zmq_close (sub);
    /* Nobody subscribes: the event is held, and destroy drops it at once.
       Given to flush, ES_NO_WAIT is no wait too, not forever. */
    emitter = es_emitter_new ("@inproc://nowait2", &options);
    CHECK (emitter);
    CHECK_EQ (es_emit (emitter, "app.held", NULL), ES_OK);
    int64_t start = s_now_ms ();
    CHECK_EQ (es_emitter_flush (emitter, ES_NO_WAIT), ES_ETIMEOUT);
    CHECK (s_now_ms () - start < 100);
    CHECK_EQ (es_emitter_close (emitter), ES_OK);
    CHECK (s_now_ms () - start < 100);
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.dropped, 1);
    es_emitter_destroy (&emitter);
}

/*  A subscriber that stops reading: libzmq queues ES_SEND_HWM messages by
    default (inproc adds the receiver's ZMQ_RCVHWM), and the emitter holds
    the rest itself, bounded and counted, not libzmq (1000 before 1.4).     */
static void s_queues_little_in_libzmq (void *context)
{
    es_options_t options = {.zmq_context = context, .linger_ms = ES_NO_WAIT,
                            .close_timeout_ms = ES_NO_WAIT};
    es_emitter_t *emitter = es_emitter_new ("@inproc://stalled", &options);
    CHECK (emitter);
    void *sub = zmq_socket (context, ZMQ_SUB);
    int one = 1;
    zmq_setsockopt (sub, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    CHECK (zmq_connect (sub, "inproc://stalled") == 0);
    CHECK_EQ (es_emit (emitter, "app.stalled", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    for (int n = 0; n < 500; n++) {
        CHECK_EQ (es_emit (emitter, "app.stalled", NULL), ES_OK);
        es_emitter_tick (emitter);
    }
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK (stats.messages >= ES_SEND_HWM);
    CHECK (stats.messages <= ES_SEND_HWM + 2);
    CHECK_EQ (stats.pending, 501 - stats.sent);
    CHECK_EQ (stats.dropped, 0);
    es_emitter_destroy (&emitter);
    zmq_close (sub);
}

/*  When the last subscriber leaves, events are held again, not sent to nobody. */
static void s_forgets_departed_subscribers (void *context)
{
    es_options_t options = {.zmq_context = context};
    char endpoint[64];
    snprintf (endpoint, sizeof endpoint, "ipc:///tmp/es_emitter_test_%d", (int) getpid ());
    char bind[70];
    snprintf (bind, sizeof bind, "@%s", endpoint);
    es_emitter_t *emitter = es_emitter_new (bind, &options);
    CHECK (emitter);
    void *one = s_subscriber (context, endpoint, "app.");
    void *two = s_subscriber (context, endpoint, "app.");
    CHECK_EQ (es_emit (emitter, "app.x", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 5000), ES_OK);
    es_emitter_stats_t stats;
    zmq_close (one);
    usleep (100 * 1000);
    for (int i = 0; i < 3; i++)
        es_emitter_tick (emitter);
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.subscriptions, 1);          /* two still wants app. */
    zmq_close (two);
    for (int i = 0; i < 50 && stats.subscriptions; i++) {
        usleep (10 * 1000);
        es_emitter_tick (emitter);
        es_emitter_stats (emitter, &stats);
    }
    CHECK_EQ (stats.subscriptions, 0);
    CHECK_EQ (es_emit (emitter, "app.x", NULL), ES_OK);
    CHECK_EQ (es_emitter_flush (emitter, 0), ES_ETIMEOUT);
    es_emitter_stats (emitter, &stats);
    CHECK_EQ (stats.pending, 1);
    CHECK_EQ (stats.sent, 1);
    es_emitter_destroy (&emitter);
    /* libzmq removes the socket file only when the context ends, after the process does. */
    unlink (endpoint + strlen ("ipc://"));
}

static void s_fork_is_refused (void *context)
{
    es_options_t options = {.zmq_context = context};
    es_emitter_t *emitter = es_emitter_new ("@inproc://fork", &options);
    CHECK (emitter);
    pid_t child = fork ();
    CHECK (child >= 0);
    if (child == 0) {
        int code = es_emit (emitter, "app.x", NULL) == ES_EFORKED &&
                           es_emitter_flush (emitter, 0) == ES_EFORKED &&
                           strstr (es_emitter_error (emitter), "fork")
                       ? 0
                       : 3;
        es_emitter_destroy (&emitter);
        _exit (code);
    }
    int status;
    CHECK (waitpid (child, &status, 0) == child);
    CHECK (WIFEXITED (status));
    CHECK_EQ (WEXITSTATUS (status), 0);
    CHECK_EQ (es_emit (emitter, "app.x", NULL), ES_OK);   /* the parent's still works */
    es_emitter_destroy (&emitter);
}

/*  A constructor that returns NULL says why in errno too: a bind whose address
    is taken is EADDRINUSE, which a caller may retry (the nginx module does, while
    a reload's old workers hold the port); a bad argument is EINVAL. */
static void s_constructors_set_errno (void *context)
{
    es_options_t options = {.zmq_context = context};
    es_emitter_t *holder = es_emitter_new ("@tcp://127.0.0.1:*", &options);
    CHECK (holder);
    char taken[300];
    snprintf (taken, sizeof taken, "@%s", es_emitter_endpoint (holder));
    errno = 0;
    CHECK (es_emitter_new (taken, &options) == NULL);
    CHECK_EQ (errno, EADDRINUSE);
    CHECK (strstr (es_last_error (), "bind"));
    errno = 0;
    CHECK (es_collector_new (taken, NULL, 0, &options) == NULL);
    CHECK_EQ (errno, EADDRINUSE);
    errno = 0;
    CHECK (es_emitter_new ("", &options) == NULL);
    CHECK_EQ (errno, EINVAL);
    errno = 0;
    CHECK (es_emitter_new ("@nope://x", &options) == NULL);
    CHECK (errno != 0 && errno != EADDRINUSE);
    es_options_t bad_host = {.zmq_context = context, .host = "\xff"};
    errno = 0;
    CHECK (es_emitter_new ("@inproc://errno", &bad_host) == NULL);
    CHECK_EQ (errno, EINVAL);
    const char *const prefixes[] = {NULL};
    errno = 0;
    CHECK (es_collector_new ("@inproc://errno", prefixes, 1, &options) == NULL);
    CHECK_EQ (errno, EINVAL);
    es_emitter_destroy (&holder);
}

/*  Until each of the N servers got a message of EMITTER (the servers may
    still hold an earlier emitter's): emits and flushes meanwhile (a
    subscription reaches the emitter some time after its handshake).
    Returns how many did within 10 s; GOT[i] says which. */
static int s_reach_servers (es_emitter_t *emitter, curve_server_t *servers, int n, int *got)
{
    int reached = 0;
    for (int64_t until = s_now_ms () + 10000; reached < n && s_now_ms () < until;) {
        CHECK_EQ (es_emit_json (emitter, "app.curve", "{\"n\": 1}"), ES_OK);
        es_emitter_flush (emitter, 20);
        for (int i = 0; i < n; i++)
            if (!got[i] && s_receive (servers[i].socket, 20)
                && received.message.source == es_emitter_source_id (emitter)) {
                got[i] = 1;
                reached++;
            }
    }
    return reached;
}

/*  Since 1.3 curve_server_key holds one server key per connecting endpoint,
    in order (a key or a certificate file each), as --curve-server does in
    TypeScript: redundant routers with key pairs of their own each get
    their events, and a wrong key shuts out its router only.                 */
static void s_curve_key_per_endpoint (void *context)
{
    curve_server_t servers[2], other;
    curve_server_start (context, &servers[0], ZMQ_SUB, NULL);
    curve_server_start (context, &servers[1], ZMQ_SUB, NULL);
    curve_server_start (context, &other, ZMQ_SUB, NULL);
    /* The second server's key as its public certificate, spaces around it. */
    char certificate[] = "/tmp/es_server_cert_XXXXXX";
    int fd = mkstemp (certificate);
    CHECK (fd >= 0);
    dprintf (fd, "curve\n    public-key = \"%s\"\n", servers[1].public_key);
    close (fd);
    char keys[300], endpoints[600];
    snprintf (keys, sizeof keys, "%s, %s", servers[0].public_key, certificate);
    /* A binding endpoint between them takes no key. */
    snprintf (endpoints, sizeof endpoints, ">%s,@inproc://curve-between,>%s",
              servers[0].endpoint, servers[1].endpoint);
    es_options_t options = {.zmq_context = context, .curve_server_key = keys};
    es_emitter_t *emitter = es_emitter_new (endpoints, &options);
    CHECK (emitter);
    CHECK_EQ (curve_server_handshake (&servers[0], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    CHECK_EQ (curve_server_handshake (&servers[1], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    int got[2] = {0, 0};
    CHECK_EQ (s_reach_servers (emitter, servers, 2, got), 2);
    es_emitter_destroy (&emitter);
    unlink (certificate);

    /* A certificate whose name has a comma is one entry, as in 1.2. */
    char with_comma[] = "/tmp/es_server,cert_XXXXXX";
    fd = mkstemp (with_comma);
    CHECK (fd >= 0);
    dprintf (fd, "curve\n    public-key = \"%s\"\n", servers[0].public_key);
    close (fd);
    es_options_t one = {.zmq_context = context, .curve_server_key = with_comma};
    snprintf (endpoints, sizeof endpoints, ">%s", servers[0].endpoint);
    emitter = es_emitter_new (endpoints, &one);
    unlink (with_comma);
    CHECK (emitter);
    CHECK_EQ (curve_server_handshake (&servers[0], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    es_emitter_destroy (&emitter);

    /* Another router's key for the second: its handshake fails, and only
       the first server gets events. */
    snprintf (keys, sizeof keys, "%s,%s", servers[0].public_key, other.public_key);
    snprintf (endpoints, sizeof endpoints, ">%s,>%s", servers[0].endpoint, servers[1].endpoint);
    emitter = es_emitter_new (endpoints, &options);
    CHECK (emitter);
    CHECK_EQ (curve_server_handshake (&servers[0], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    CHECK (curve_server_handshake (&servers[1], 5000) & CURVE_HANDSHAKE_FAILED);
    got[0] = got[1] = 0;
    CHECK_EQ (s_reach_servers (emitter, servers, 1, got), 1);
    CHECK_EQ (es_emitter_flush (emitter, 1000), ES_OK);
    while (s_receive (servers[1].socket, 100))       /* the first emitter's only */
        CHECK (received.message.source != es_emitter_source_id (emitter));
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    CHECK (stats.sent > 0);
    es_emitter_destroy (&emitter);

    /* A count that pairs with neither one key for all nor one per
       connecting endpoint: EINVAL, and no key in the message. */
    char three[300], two[300];
    snprintf (three, sizeof three, "%s,%s,%s", servers[0].public_key, servers[1].public_key,
              other.public_key);
    snprintf (two, sizeof two, "%s,%s", servers[0].public_key, servers[1].public_key);
    char both[600], one_bound[600];
    snprintf (both, sizeof both, ">%s,>%s", servers[0].endpoint, servers[1].endpoint);
    snprintf (one_bound, sizeof one_bound, ">%s,@inproc://curve-bound", servers[0].endpoint);
    const struct {
        const char *endpoints, *keys, *message;
    } mismatches[] = {
        {both, three, "3 server keys (curve_server_key) for 2 endpoints that connect: "
                      "give one key for all, or one per connecting endpoint in the order "
                      "they are given"},
        {one_bound, two, "2 server keys (curve_server_key) for 1 endpoint that connects"},
        {"@inproc://curve-only-bound", two,
         "2 server keys (curve_server_key) for 0 endpoints that connect"},
    };
    for (size_t i = 0; i < sizeof mismatches / sizeof *mismatches; i++) {
        options.curve_server_key = mismatches[i].keys;
        errno = 0;
        CHECK (es_emitter_new (mismatches[i].endpoints, &options) == NULL);
        CHECK_EQ (errno, EINVAL);
        CHECK (strstr (es_last_error (), mismatches[i].message));
        CHECK (!strstr (es_last_error (), servers[0].public_key));
        CHECK (!strstr (es_last_error (), servers[1].public_key));
        CHECK (!strstr (es_last_error (), other.public_key));
    }
    options.curve_server_key = keys;
    /* A bad second entry is named by its place, never shown. */
    const char *undecodable = "########################################";
    snprintf (endpoints, sizeof endpoints, ">%s,>%s", servers[0].endpoint, servers[1].endpoint);
    snprintf (keys, sizeof keys, "%s,%s", servers[0].public_key, undecodable);
    errno = 0;
    CHECK (es_emitter_new (endpoints, &options) == NULL);
    CHECK_EQ (errno, EINVAL);
    CHECK (strstr (es_last_error (), "cannot read the public certificate of server key 2"));
    CHECK (!strstr (es_last_error (), undecodable));
    CHECK (!strstr (es_last_error (), servers[0].public_key));
    snprintf (keys, sizeof keys, "%s,", servers[0].public_key);
    errno = 0;
    CHECK (es_emitter_new (endpoints, &options) == NULL);
    CHECK_EQ (errno, EINVAL);
    CHECK (strstr (es_last_error (), "server key 2 is empty"));
    CHECK (!strstr (es_last_error (), servers[0].public_key));
    curve_server_stop (&servers[0]);
    curve_server_stop (&servers[1]);
    curve_server_stop (&other);
}

/*  Refused with EINVAL and a message holding WANTED, by the emitter and the
    collector alike, a message that shows none of the keys in HIDDEN.        */
static void s_refused (const char *endpoints, const es_options_t *options, const char *wanted,
                       const char *const *hidden)
{
    errno = 0;
    es_emitter_t *emitter = es_emitter_new (endpoints, options);
    if (emitter)
        fprintf (stderr, "accepted: \"%.80s\"\n", endpoints);
    CHECK (emitter == NULL);
    CHECK_EQ (errno, EINVAL);
    if (!strstr (es_last_error (), wanted))
        fprintf (stderr, "message: %s\nwanted:  %s\n", es_last_error (), wanted);
    CHECK (strstr (es_last_error (), wanted));
    for (const char *const *key = hidden; key && *key; key++)
        CHECK (!strstr (es_last_error (), *key));
    errno = 0;
    CHECK (es_collector_new (endpoints, NULL, 0, options) == NULL);
    CHECK_EQ (errno, EINVAL);
    CHECK (strstr (es_last_error (), wanted));
    for (const char *const *key = hidden; key && *key; key++)
        CHECK (!strstr (es_last_error (), *key));
}

/*  Both comma lists, ENDPOINTS and curve_server_key, follow one rule: blanks
    around an entry are trimmed; an empty entry (",,", a trailing comma, a
    list all blank) and an entry too long for its buffer are EINVAL, never
    dropped or cut short; no message shows a key.                            */
static void s_lists_follow_one_rule (void *context)
{
    es_options_t options = {.zmq_context = context};
    es_emitter_t *emitter = es_emitter_new (" @inproc://list-a ,\t@inproc://list-b\n", &options);
    CHECK (emitter);
    CHECK (strcmp (es_emitter_endpoint (emitter), "inproc://list-b") == 0);
    es_emitter_destroy (&emitter);
    s_refused ("@inproc://list-c,,@inproc://list-d", &options,
               "invalid endpoint '@inproc://list-c,,@inproc://list-d': empty (entry 2)", NULL);
    s_refused ("@inproc://list-e,", &options,
               "invalid endpoint '@inproc://list-e,': empty (entry 2)", NULL);
    s_refused ("@inproc://list-f, ", &options, "': empty (entry 2)", NULL);
    s_refused (",@inproc://list-g", &options, "': empty (entry 1)", NULL);
    s_refused (" \t", &options, "invalid endpoint ' \t': empty", NULL);
    /* An entry fits in 1023 bytes (its buffer's 1024 with the NUL), blanks
       around it not counted; one byte more is refused, not cut short. */
    char entry[1100];
    memset (entry, 'x', sizeof entry);
    snprintf (entry, sizeof entry, "  @inproc://");
    entry[12] = 'x';
    entry[2 + 1023] = ' ';
    entry[2 + 1023 + 1] = 0;
    emitter = es_emitter_new (entry, &options);
    CHECK (emitter);
    es_emitter_destroy (&emitter);
    entry[2 + 1023] = 'x';
    s_refused (entry, &options, "': too long (entry 1, over 1023 bytes)", NULL);

    curve_server_t servers[2];
    curve_server_start (context, &servers[0], ZMQ_SUB, NULL);
    curve_server_start (context, &servers[1], ZMQ_SUB, NULL);
    const char *const hidden[] = {servers[0].public_key, servers[1].public_key, NULL};
    char keys[5200], one[300], two[600];
    snprintf (one, sizeof one, ">%s", servers[0].endpoint);
    snprintf (two, sizeof two, ">%s,>%s", servers[0].endpoint, servers[1].endpoint);
    es_options_t curve = {.zmq_context = context, .curve_server_key = keys};
    /* Blanks around a lone key, and around each of two (a newline too). */
    snprintf (keys, sizeof keys, "\t%s \n", servers[0].public_key);
    emitter = es_emitter_new (one, &curve);
    CHECK (emitter);
    CHECK_EQ (curve_server_handshake (&servers[0], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    es_emitter_destroy (&emitter);
    snprintf (keys, sizeof keys, " %s\n,\t%s\r", servers[0].public_key, servers[1].public_key);
    emitter = es_emitter_new (two, &curve);
    CHECK (emitter);
    CHECK_EQ (curve_server_handshake (&servers[0], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    CHECK_EQ (curve_server_handshake (&servers[1], 5000), ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    es_emitter_destroy (&emitter);
    /* An empty entry is named by its place before any count is compared. */
    snprintf (keys, sizeof keys, "%s,,%s", servers[0].public_key, servers[1].public_key);
    s_refused (two, &curve, "curve_server_key: server key 2 is empty (a comma too many?)", hidden);
    snprintf (keys, sizeof keys, "%s,", servers[0].public_key);
    s_refused (one, &curve, "curve_server_key: server key 2 is empty (a comma too many?)", hidden);
    snprintf (keys, sizeof keys, "%s,\t", servers[0].public_key);
    s_refused (two, &curve, "curve_server_key: server key 2 is empty (a comma too many?)", hidden);
    snprintf (keys, sizeof keys, ",%s", servers[1].public_key);
    s_refused (two, &curve, "curve_server_key: server key 1 is empty (a comma too many?)", hidden);
    snprintf (keys, sizeof keys, " \t ");
    s_refused (one, &curve, "curve_server_key is empty", hidden);
    keys[0] = 0;
    s_refused (one, &curve, "curve_server_key is empty", hidden);
    /* A path of PATH_MAX - 1 bytes is read (and is no file here); one byte
       more is refused as too long, alone or second. */
    int length = snprintf (keys, sizeof keys, "%s, /", servers[0].public_key);
    memset (keys + length, 'k', 4094);
    snprintf (keys + length + 4094, sizeof keys - length - 4094, " ");
    s_refused (two, &curve, "cannot read the public certificate of server key 2", hidden);
    keys[length + 4094] = 'k';
    s_refused (two, &curve, "curve_server_key: server key 2 is too long (over 4095 bytes)",
               hidden);
    s_refused (one, &curve, "curve_server_key: server key 2 is too long (over 4095 bytes)",
               hidden);
    curve.curve_server_key = keys + length - 1;
    s_refused (one, &curve, "curve_server_key is too long (over 4095 bytes)", hidden);
    curve_server_stop (&servers[0]);
    curve_server_stop (&servers[1]);
}

int main (void)
{
    void *context = zmq_ctx_new ();
    s_holds_until_subscribed_and_envelope (context);
    s_batches_by_size_and_time (context);
    s_emits_at_a_given_time (context);
    s_refuses_bad_events (context);
    s_refuses_what_receivers_drop (context);
    s_timeout_does_not_spin (context);
    s_destroy_keeps_to_close_timeout ();
    s_no_wait (context);
    s_queues_little_in_libzmq (context);
    s_fork_is_refused (context);
    s_forgets_departed_subscribers (context);
    s_constructors_set_errno (context);
    s_curve_key_per_endpoint (context);
    s_lists_follow_one_rule (context);
    zmq_ctx_term (context);
    printf ("emitter: ok\n");
    return 0;
}
