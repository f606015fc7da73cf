/*  The emitter: batches events per topic and publishes them on an XPUB. */
#define _DEFAULT_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/*  How often es_emitter_timeout asks for a tick while events are held and
    nobody subscribes: a subscription is seen within it by a program that
    ticks on its timer alone.                                                */
#define IDLE_LOOK_MS 1000

typedef struct topic_t {
    char *name;
    size_t length;
    uint64_t next_index;
    uint8_t *body;              /* the open batch */
    size_t body_size, body_capacity;
    uint32_t count;
    uint64_t first;
    int64_t opened_ms;          /* when the open batch got its first event */
    int64_t last_ms;            /* last message or announcement queued */
    uint64_t held;              /* events in queued messages */
    unsigned wanted_generation; /* subscription generation `wanted` is for */
    bool wanted;
    es_topic_stats_t stats;
} topic_t;

typedef struct message_t {
    struct message_t *next;
    topic_t *topic;
    uint8_t header[ES_HEADER_SIZE];
    uint8_t *body;
    size_t size;
    uint32_t count;
} message_t;

typedef struct {
    char *prefix;
    size_t length;
    int references;
} subscription_t;

struct es_emitter_t {
    unsigned generation;
    pid_t pid;
    es_link_t link;
    char error[ES_ERROR_SIZE];
    char *host;
    size_t host_length;
    size_t max_events, max_bytes, max_event_bytes, max_pending_bytes;
    int linger_ms, announce_ms, close_timeout_ms;
    bool reserved_types;
    uint64_t source;
    topic_t **topics;
    size_t n_topics, topics_capacity;
    topic_t *last_topic;        /* most emitters emit one type in a row */
    message_t *head, *tail;     /* queued messages, oldest first */
    size_t held_bytes;
    subscription_t *subscriptions;
    size_t n_subscriptions, subscriptions_capacity;
    unsigned subscription_generation;
    int64_t housekept_ms;
    bson_t document;
    es_emitter_stats_t stats;
    bool closed;
};

static uint64_t s_random_source (void)
{
    uint64_t value = 0;
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (read (fd, &value, sizeof value) != (ssize_t) sizeof value)
            value = 0;
        close (fd);
    }
    while (value == 0) {
        /* No /dev/urandom (chroot): time, pid and an address, mixed. */
        value = (uint64_t) es_realtime_ms () * 0x9E3779B97F4A7C15ull ^ (uint64_t) getpid () << 32 ^
                (uint64_t) (uintptr_t) &value;
        value ^= value >> 31;
    }
    return value;
}

/*  The hot path (es_emit) checks the fork counter only; every other call
    also compares the pid, which catches a child made without fork ()'s
    handlers (a raw clone). */
static int s_check_pid (es_emitter_t *self, bool compare_pid)
{
    if (!self)
        return ES_EINVAL;
    if (self->generation != es_fork_generation () || (compare_pid && getpid () != self->pid)) {
        es_format_error (self->error, "emitter used in a child process after fork()");
        return ES_EFORKED;
    }
    return ES_OK;
}

static int s_check (es_emitter_t *self)
{
    return s_check_pid (self, true);
}

es_emitter_t *es_emitter_new (const char *endpoints, const es_options_t *options)
{
    es_options_t defaults = {0};
    if (!options)
        options = &defaults;
    char hostname[256] = "localhost";
    if (options->host) {
        /* Every event carries it: cut, or not UTF-8, it would make receivers
           drop every message of this emitter. */
        size_t length = strlen (options->host);
        if (length >= sizeof hostname) {
            es_fail ("host is %zu bytes long, more than %zu", length, sizeof hostname - 1);
            return es_null_errno (EINVAL);
        }
        if (!es_utf8_check ((const uint8_t *) options->host, length)) {
            es_fail ("host is not valid UTF-8");
            return es_null_errno (EINVAL);
        }
        memcpy (hostname, options->host, length + 1);
    }
    else
    if (gethostname (hostname, sizeof hostname) != 0 ||
        !es_utf8_check ((const uint8_t *) hostname, strnlen (hostname, sizeof hostname - 1)))
        strcpy (hostname, "localhost");
    hostname[sizeof hostname - 1] = 0;
    es_emitter_t *self = calloc (1, sizeof *self);
    if (!self) {
        es_fail ("out of memory");
        return es_null_errno (ENOMEM);
    }
    self->generation = es_fork_generation ();
    self->pid = getpid ();
    self->max_events = options->max_events ? options->max_events : 1000;
    self->max_bytes = options->max_bytes ? options->max_bytes : 256 * 1024;
    self->max_event_bytes = options->max_event_bytes ? options->max_event_bytes : 1 << 20;
    /* No message may pass 16 MiB (docs/protocol.md 2.5): receivers' libzmq
       cuts the connection, losing it and what follows, uncounted. Every
       batch is also sealed before an event would take it past (s_reserve). */
    if (self->max_bytes > ES_MAX_EVENT_BYTES)
        self->max_bytes = ES_MAX_EVENT_BYTES;
    if (self->max_event_bytes > ES_MAX_EVENT_BYTES)
        self->max_event_bytes = ES_MAX_EVENT_BYTES;
    self->max_pending_bytes =
        options->max_pending_bytes ? options->max_pending_bytes : (size_t) 64 << 20;
    /* 0 in an option is its default; ES_NO_WAIT asks for zero. */
    self->linger_ms = options->linger_ms == ES_NO_WAIT ? 0
                      : options->linger_ms          ? options->linger_ms
                                                    : 100;
    self->announce_ms = options->announce_ms ? options->announce_ms : 1000;
    self->close_timeout_ms = options->close_timeout_ms ? options->close_timeout_ms : 1000;
    self->reserved_types = options->reserved_types != 0;
    /* A fresh id per emitter: its numbering starts at 0, and the protocol
       forbids a reused id with a numbering that starts over (2.3). */
    self->source = s_random_source ();
    bson_init (&self->document);
    self->host = strdup (hostname);
    self->host_length = strlen (self->host);
    if (!self->host || es_link_open (&self->link, options, ZMQ_XPUB, self->error) != ES_OK) {
        int code = self->host ? errno : ENOMEM;
        es_fail ("cannot create an emitter: %s", self->host ? self->error : "out of memory");
        es_emitter_destroy (&self);
        return es_null_errno (code);
    }
    int one = 1;
    int hwm = options->send_hwm > 0 ? options->send_hwm : ES_SEND_HWM;
    /* NODROP: libzmq pushes back (EAGAIN) instead of dropping silently, so
       this emitter holds, or drops and counts. VERBOSER: every (un)subscribe
       of every peer arrives, so reference counts stay exact. */
    zmq_setsockopt (self->link.socket, ZMQ_XPUB_NODROP, &one, sizeof one);
    zmq_setsockopt (self->link.socket, ZMQ_XPUB_VERBOSER, &one, sizeof one);
    zmq_setsockopt (self->link.socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (es_link_attach (&self->link, options, endpoints, self->error) != ES_OK) {
        int code = errno;
        es_fail ("%s", self->error);
        es_emitter_destroy (&self);
        return es_null_errno (code);
    }
    self->housekept_ms = es_monotonic_ms ();
    return self;
}

/*  Subscriptions ----------------------------------------------------------- */

static void s_subscription_change (es_emitter_t *self, const uint8_t *data, size_t size)
{
    if (size < 1 || (data[0] != 0 && data[0] != 1))
        return;
    const char *prefix = (const char *) data + 1;
    size_t length = size - 1;
    size_t i;
    for (i = 0; i < self->n_subscriptions; i++)
        if (self->subscriptions[i].length == length &&
            memcmp (self->subscriptions[i].prefix, prefix, length) == 0)
            break;
    if (data[0] == 1) {
        if (i == self->n_subscriptions) {
            if (self->n_subscriptions == self->subscriptions_capacity) {
                size_t capacity = self->subscriptions_capacity ? self->subscriptions_capacity * 2 : 8;
                subscription_t *grown =
                    realloc (self->subscriptions, capacity * sizeof *grown);
                if (!grown)
                    return;
                self->subscriptions = grown;
                self->subscriptions_capacity = capacity;
            }
            subscription_t *added = &self->subscriptions[self->n_subscriptions];
            added->prefix = malloc (length + 1);
            if (!added->prefix)
                return;
            memcpy (added->prefix, prefix, length);
            added->length = length;
            added->references = 0;
            self->n_subscriptions++;
        }
        self->subscriptions[i].references++;
    }
    else
    if (i < self->n_subscriptions && --self->subscriptions[i].references <= 0) {
        free (self->subscriptions[i].prefix);
        self->subscriptions[i] = self->subscriptions[--self->n_subscriptions];
    }
    self->subscription_generation++;
}

static void s_read_subscriptions (es_emitter_t *self)
{
    /* A non-blocking receive alone may skip libzmq's pending commands (it
       throttles them), and a peer's departure, whose unsubscriptions come
       from such a command, would go unseen: ZMQ_EVENTS processes them all. */
    int events;
    size_t size = sizeof events;
    zmq_getsockopt (self->link.socket, ZMQ_EVENTS, &events, &size);
    while (true) {
        zmq_msg_t message;
        zmq_msg_init (&message);
        if (zmq_msg_recv (&message, self->link.socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&message);
            return;
        }
        s_subscription_change (self, zmq_msg_data (&message), zmq_msg_size (&message));
        zmq_msg_close (&message);
    }
}

static bool s_wanted (es_emitter_t *self, topic_t *topic)
{
    if (topic->wanted_generation != self->subscription_generation) {
        topic->wanted = false;
        for (size_t i = 0; i < self->n_subscriptions && !topic->wanted; i++) {
            subscription_t *s = &self->subscriptions[i];
            topic->wanted = s->length <= topic->length &&
                            memcmp (s->prefix, topic->name, s->length) == 0;
        }
        topic->wanted_generation = self->subscription_generation;
    }
    return topic->wanted;
}

/*  Queue ------------------------------------------------------------------- */

static void s_message_free (void *data, void *hint)
{
    (void) hint;
    free (data);
}

static void s_unqueue_head (es_emitter_t *self)
{
    message_t *message = self->head;
    self->head = message->next;
    if (!self->head)
        self->tail = NULL;
    self->held_bytes -= message->size;
    message->topic->held -= message->count;
    message->topic->stats.pending -= message->count;
    self->stats.pending -= message->count;
    free (message->body);
    free (message);
}

static void s_drop_head (es_emitter_t *self)
{
    message_t *message = self->head;
    message->topic->stats.dropped += message->count;
    self->stats.dropped += message->count;
    s_unqueue_head (self);
}

static int s_enqueue (es_emitter_t *self, topic_t *topic, uint8_t *body, size_t size,
                      uint32_t count, uint64_t first)
{
    message_t *message = malloc (sizeof *message);
    if (!message) {
        free (body);
        topic->stats.dropped += count;
        self->stats.dropped += count;
        topic->stats.pending -= count;
        self->stats.pending -= count;
        es_format_error (self->error, "out of memory: %u events dropped", count);
        return ES_ENOMEM;
    }
    message->next = NULL;
    message->topic = topic;
    es_header_encode (message->header, count, self->source, first);
    message->body = body;
    message->size = size;
    message->count = count;
    if (self->tail)
        self->tail->next = message;
    else
        self->head = message;
    self->tail = message;
    self->held_bytes += size;
    topic->held += count;
    topic->last_ms = es_monotonic_ms ();
    /* Over the limit the oldest go: they are the likeliest to be stale. */
    while (self->held_bytes > self->max_pending_bytes && self->head != message)
        s_drop_head (self);
    return ES_OK;
}

/*  Sends queued messages until libzmq pushes back or nobody listens.     */
static void s_drain (es_emitter_t *self)
{
    while (self->head && self->n_subscriptions > 0) {
        message_t *message = self->head;
        topic_t *topic = message->topic;
        if (!s_wanted (self, topic)) {
            topic->stats.unsubscribed += message->count;
            self->stats.unsubscribed += message->count;
            s_unqueue_head (self);
            continue;
        }
        if (zmq_send (self->link.socket, topic->name, topic->length, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
            return;     /* EAGAIN: a subscriber is full; keep it for later */
        /* The first frame passed the HWM check: the others of the same
           message are always accepted. */
        zmq_send (self->link.socket, message->header, ES_HEADER_SIZE, ZMQ_SNDMORE);
        zmq_msg_t body;
        if (message->size > 0 &&
            zmq_msg_init_data (&body, message->body, message->size, s_message_free, NULL) == 0)
            message->body = NULL;       /* libzmq owns it now */
        else
            zmq_msg_init_size (&body, 0);
        zmq_msg_send (&body, self->link.socket, 0);
        if (message->count) {
            topic->stats.sent += message->count;
            self->stats.sent += message->count;
            self->stats.messages++;
            self->stats.bytes += message->size;
        }
        else
            self->stats.announcements++;
        s_unqueue_head (self);
    }
}

/*  Batches ----------------------------------------------------------------- */

static int s_seal (es_emitter_t *self, topic_t *topic)
{
    if (topic->count == 0)
        return ES_OK;
    uint8_t *body = topic->body;
    size_t size = topic->body_size;
    uint32_t count = topic->count;
    topic->body = NULL;
    topic->body_size = topic->body_capacity = 0;
    topic->count = 0;
    return s_enqueue (self, topic, body, size, count, topic->first);
}

static void s_announce_idle (es_emitter_t *self, int64_t now)
{
    if (self->announce_ms < 0 || self->n_subscriptions == 0)
        return;
    for (size_t i = 0; i < self->n_topics; i++) {
        topic_t *topic = self->topics[i];
        if (topic->count == 0 && topic->held == 0 && now - topic->last_ms >= self->announce_ms &&
            s_wanted (self, topic))
            s_enqueue (self, topic, NULL, 0, 0, topic->next_index);
    }
}

static void s_housekeep (es_emitter_t *self, int64_t now)
{
    self->housekept_ms = now;
    s_read_subscriptions (self);
    if (self->linger_ms >= 0)
        for (size_t i = 0; i < self->n_topics; i++) {
            topic_t *topic = self->topics[i];
            if (topic->count && now - topic->opened_ms >= self->linger_ms)
                s_seal (self, topic);
        }
    s_drain (self);
    s_announce_idle (self, now);
    s_drain (self);
}

static topic_t *s_topic (es_emitter_t *self, const char *type, size_t length)
{
    if (self->last_topic && self->last_topic->length == length &&
        memcmp (self->last_topic->name, type, length) == 0)
        return self->last_topic;
    for (size_t i = 0; i < self->n_topics; i++) {
        topic_t *topic = self->topics[i];
        if (topic->length == length && memcmp (topic->name, type, length) == 0)
            return self->last_topic = topic;
    }
    if (self->n_topics == self->topics_capacity) {
        size_t capacity = self->topics_capacity ? self->topics_capacity * 2 : 8;
        topic_t **grown = realloc (self->topics, capacity * sizeof *grown);
        if (!grown)
            return NULL;
        self->topics = grown;
        self->topics_capacity = capacity;
    }
    topic_t *topic = calloc (1, sizeof *topic);
    if (!topic || !(topic->name = malloc (length + 1))) {
        free (topic);
        return NULL;
    }
    memcpy (topic->name, type, length);
    topic->name[length] = 0;
    topic->length = length;
    topic->stats.topic = topic->name;
    topic->last_ms = es_monotonic_ms ();
    topic->wanted_generation = self->subscription_generation - 1;
    self->topics[self->n_topics++] = topic;
    self->stats.topics = self->n_topics;
    return self->last_topic = topic;
}

/*  Builds the event document in self->document; returns an ES_ code. */
static int s_build (es_emitter_t *self, const char *type, size_t length, const int64_t *at_ms,
                    const bson_t *fields)
{
    bson_t *doc = &self->document;
    bson_reinit (doc);
    int64_t time_ms = 0;
    bool have_time = false;
    const char *host = self->host;
    uint32_t host_length = (uint32_t) self->host_length;
    bson_iter_t iter;
    if (fields) {
        if (!bson_iter_init (&iter, fields)) {
            es_format_error (self->error, "fields are not a valid BSON document");
            return ES_EINVAL;
        }
        while (bson_iter_next (&iter)) {
            const char *key = bson_iter_key (&iter);
            if (key[0] == 't' && strcmp (key, "type") == 0) {
                uint32_t given_length;
                const char *given = BSON_ITER_HOLDS_UTF8 (&iter)
                                        ? bson_iter_utf8 (&iter, &given_length)
                                        : NULL;
                if (!given || given_length != length || memcmp (given, type, length) != 0) {
                    es_format_error (self->error, "field type differs from the event type %s",
                                     type);
                    return ES_EINVAL;
                }
            }
            else
            if (key[0] == 't' && strcmp (key, "time") == 0) {
                if (!BSON_ITER_HOLDS_DATE_TIME (&iter)) {
                    es_format_error (self->error, "field time is not a BSON date");
                    return ES_EINVAL;
                }
                time_ms = bson_iter_date_time (&iter);
                have_time = true;
            }
            else
            if (key[0] == 'h' && strcmp (key, "host") == 0) {
                if (!BSON_ITER_HOLDS_UTF8 (&iter)) {
                    es_format_error (self->error, "field host is not a string");
                    return ES_EINVAL;
                }
                host = bson_iter_utf8 (&iter, &host_length);
            }
        }
    }
    if (!have_time)
        time_ms = at_ms ? *at_ms : es_realtime_ms ();
    if (time_ms > ES_MAX_DATE_MS || time_ms < -ES_MAX_DATE_MS) {
        es_format_error (self->error, "time %" PRId64 " ms is beyond what receivers hold (8.64e15)",
                         time_ms);
        return ES_EINVAL;
    }
    bson_append_utf8 (doc, "type", 4, type, (int) length);
    bson_append_date_time (doc, "time", 4, time_ms);
    bson_append_utf8 (doc, "host", 4, host, (int) host_length);
    if (fields) {
        bson_iter_init (&iter, fields);
        while (bson_iter_next (&iter)) {
            const char *key = bson_iter_key (&iter);
            if (strcmp (key, "type") && strcmp (key, "time") && strcmp (key, "host"))
                bson_append_iter (doc, key, (int) bson_iter_key_len (&iter), &iter);
        }
    }
    return ES_OK;
}

/*  Room for SIZE more bytes in TOPIC's open batch; an event that would take
    the message past the protocol's limit goes into the next batch.        */
static int s_reserve (es_emitter_t *self, topic_t *topic, size_t size)
{
    if (topic->count &&
        topic->length + ES_HEADER_SIZE + topic->body_size + size > ES_MAX_MESSAGE_BYTES)
        s_seal (self, topic);
    if (topic->body_size + size <= topic->body_capacity)
        return ES_OK;
    size_t capacity = topic->body_capacity ? topic->body_capacity : self->max_bytes + 1024;
    while (capacity < topic->body_size + size)
        capacity *= 2;
    uint8_t *grown = realloc (topic->body, capacity);
    if (!grown) {
        es_format_error (self->error, "out of memory");
        return ES_ENOMEM;
    }
    topic->body = grown;
    topic->body_capacity = capacity;
    return ES_OK;
}

static int s_oversized (es_emitter_t *self, const char *type, size_t size)
{
    self->stats.oversized++;
    es_format_error (self->error, "%s event of %zu bytes exceeds max_event_bytes (%zu)", type, size,
                     self->max_event_bytes);
    return ES_EOVERSIZED;
}

static uint8_t *s_put_string (uint8_t *at, const char *key, const char *value, size_t length)
{
    *at++ = 0x02;
    memcpy (at, key, 5);        /* "type\0" or "host\0" */
    at += 5;
    uint32_t size = (uint32_t) length + 1;
    for (int i = 0; i < 4; i++)
        *at++ = (uint8_t) (size >> (8 * i));
    memcpy (at, value, length);
    at += length;
    *at++ = 0;
    return at;
}

/*  The common case, written straight into the batch: FIELDS without any
    envelope field, so the document is the envelope followed by FIELDS's
    elements as they are (one copy, no libbson building). */
static int s_append_plain (es_emitter_t *self, topic_t *topic, const int64_t *at_ms,
                           const bson_t *fields)
{
    if (at_ms && (*at_ms > ES_MAX_DATE_MS || *at_ms < -ES_MAX_DATE_MS)) {
        self->stats.invalid++;
        es_format_error (self->error, "time %" PRId64 " ms is beyond what receivers hold (8.64e15)",
                         *at_ms);
        return ES_EINVAL;
    }
    size_t fields_size = fields ? fields->len - 5 : 0;
    size_t size = 4 + (11 + topic->length) + 14 + (11 + self->host_length) + fields_size + 1;
    if (size > self->max_event_bytes)
        return s_oversized (self, topic->name, size);
    int rc = s_reserve (self, topic, size);
    if (rc != ES_OK)
        return rc;
    uint8_t *at = topic->body + topic->body_size;
    for (int i = 0; i < 4; i++)
        *at++ = (uint8_t) (size >> (8 * i));
    at = s_put_string (at, "type", topic->name, topic->length);
    *at++ = 0x09;
    memcpy (at, "time", 5);
    at += 5;
    uint64_t time_ms = (uint64_t) (at_ms ? *at_ms : es_realtime_ms ());
    for (int i = 0; i < 8; i++)
        *at++ = (uint8_t) (time_ms >> (8 * i));
    at = s_put_string (at, "host", self->host, self->host_length);
    if (fields_size) {
        memcpy (at, bson_get_data (fields) + 4, fields_size);
        at += fields_size;
    }
    *at = 0;
    topic->body_size += size;
    return ES_OK;
}

/*  Any other case: built and checked with libbson, then copied. */
static int s_append_built (es_emitter_t *self, topic_t *topic, const int64_t *at_ms,
                           const bson_t *fields)
{
    int rc = s_build (self, topic->name, topic->length, at_ms, fields);
    if (rc != ES_OK) {
        self->stats.invalid++;
        return rc;
    }
    size_t size = self->document.len;
    if (size > self->max_event_bytes)
        return s_oversized (self, topic->name, size);
    rc = s_reserve (self, topic, size);
    if (rc != ES_OK)
        return rc;
    memcpy (topic->body + topic->body_size, bson_get_data (&self->document), size);
    topic->body_size += size;
    return ES_OK;
}

/*  FIELDS judged as receivers will judge the event (docs/protocol.md,
    Validation step 6): a name or string that is not UTF-8, or bytes that are
    not BSON, would make them drop the whole message with every other event
    in it; a date past 8.64e15 ms or nesting past 100 levels, the event. The
    envelope is the library's own (a checked type and host, a checked time).
    *PLAIN: FIELDS hold none of the envelope fields (type, time, host), so
    the event is written straight into the batch.                            */
static int s_check_fields (es_emitter_t *self, const bson_t *fields, bool *plain)
{
    *plain = true;
    if (!fields)
        return ES_OK;
    const char *problem;
    bool envelope;
    es_shape_t shape = es_fields_shape (fields, &envelope);
    *plain = !envelope;
    switch (shape) {
        case SHAPE_OK:
            return ES_OK;
        case SHAPE_TOO_DEEP:
            problem = "nest deeper than 100 levels";
            break;
        case SHAPE_FAR_DATE:
            problem = "hold a date beyond what receivers hold (8.64e15 ms from the epoch)";
            break;
        default:
            problem = "are not valid BSON, or hold a name or string that is not UTF-8";
    }
    self->stats.invalid++;
    es_format_error (self->error, "fields %s", problem);
    return ES_EINVAL;
}

/*  AT_MS: the event's time unless FIELDS has one; NULL for now.             */
static int s_emit (es_emitter_t *self, const char *type, const int64_t *at_ms,
                   const bson_t *fields)
{
    topic_t *topic = self->last_topic;
    bool known = type && topic && strcmp (topic->name, type) == 0;
    size_t length = 0;
    if (!known) {
        /* A new or other type: checked once here, known valid afterwards. */
        length = type ? strlen (type) : 0;
        if (!es_type_valid (type, length)) {
            self->stats.invalid++;
            es_format_error (self->error,
                             "invalid event type \"%.200s\" (dotted lower case expected)",
                             type ? type : "(null)");
            return ES_EINVAL;
        }
        if (!self->reserved_types && length > 11 && memcmp (type, "eventstorm.", 11) == 0) {
            self->stats.invalid++;
            es_format_error (self->error,
                             "event type %.200s is in the eventstorm. namespace, reserved to "
                             "eventstorm's own components",
                             type);
            return ES_EINVAL;
        }
    }
    bool plain;
    int rc = s_check_fields (self, fields, &plain);
    if (rc != ES_OK)
        return rc;
    if (!known) {
        if (!plain) {
            /* Check the envelope before the type gets a topic of its own. */
            rc = s_build (self, type, length, at_ms, fields);
            if (rc != ES_OK) {
                self->stats.invalid++;
                return rc;
            }
        }
        topic = s_topic (self, type, length);
        if (!topic) {
            es_format_error (self->error, "out of memory");
            return ES_ENOMEM;
        }
    }
    rc = plain ? s_append_plain (self, topic, at_ms, fields)
               : s_append_built (self, topic, at_ms, fields);
    if (rc != ES_OK)
        return rc;
    int64_t now = es_coarse_ms ();
    if (topic->count == 0) {
        topic->first = topic->next_index;
        topic->opened_ms = now;
    }
    topic->count++;
    topic->next_index++;
    topic->stats.next_index = topic->next_index;
    topic->stats.events++;
    topic->stats.pending++;
    self->stats.events++;
    self->stats.pending++;
    if (topic->count >= self->max_events || topic->body_size >= self->max_bytes ||
        self->linger_ms == 0) {
        s_seal (self, topic);
        s_housekeep (self, now);
    }
    else
    if (now != self->housekept_ms)
        s_housekeep (self, now);
    return ES_OK;
}

/*  Both entry points: AT_MS NULL means now.                                 */
static int s_emit_checked (es_emitter_t *self, const char *type, const int64_t *at_ms,
                           const bson_t *fields)
{
    int rc = s_check_pid (self, false);
    if (rc != ES_OK)
        return rc;
    if (self->closed) {
        es_format_error (self->error, "emitter is closed");
        return ES_EINVAL;
    }
    return s_emit (self, type, at_ms, fields);
}

int es_emit (es_emitter_t *self, const char *type, const bson_t *fields)
{
    return s_emit_checked (self, type, NULL, fields);
}

int es_emit_at (es_emitter_t *self, const char *type, int64_t time_ms, const bson_t *fields)
{
    return s_emit_checked (self, type, &time_ms, fields);
}

int es_emit_json (es_emitter_t *self, const char *type, const char *json_object)
{
    int rc = s_check (self);
    if (rc != ES_OK)
        return rc;
    if (!json_object || !*json_object)
        return es_emit (self, type, NULL);
    /* Exactly one object: libbson reads an array as a document ("0", "1",
       ...) and stops after the first of several documents, dropping the
       rest silently; its reader shows both. */
    const char *at = json_object + strspn (json_object, " \t\r\n");
    size_t length = strlen (at);
    bson_json_reader_t *reader = *at == '{' ? bson_json_data_reader_new (false, length) : NULL;
    bson_t fields = BSON_INITIALIZER, more = BSON_INITIALIZER;
    bson_error_t error = {.message = "it does not start with {"};
    int read = 0;
    if (reader) {
        bson_json_data_reader_ingest (reader, (const uint8_t *) at, length);
        read = bson_json_reader_read (reader, &fields, &error);
        if (read == 1 && bson_json_reader_read (reader, &more, &error) != 0) {
            read = 0;
            snprintf (error.message, sizeof error.message, "more than one JSON value");
        }
        bson_json_reader_destroy (reader);
    }
    bson_destroy (&more);
    if (read != 1) {
        bson_destroy (&fields);
        self->stats.invalid++;
        es_format_error (self->error, "fields are not one JSON object: %s", error.message);
        return ES_EINVAL;
    }
    rc = es_emit (self, type, &fields);
    bson_destroy (&fields);
    return rc;
}

int es_emitter_tick (es_emitter_t *self)
{
    int rc = s_check (self);
    if (rc == ES_OK)
        s_housekeep (self, es_monotonic_ms ());
    return rc;
}

int es_emitter_timeout (es_emitter_t *self)
{
    if (s_check (self) != ES_OK)
        return -1;
    /* Only work that a tick can do counts: an announcement nobody wants, or
       one held back by an open batch, is not due, or an event loop that
       follows this advice would spin on a deadline that never moves. */
    int64_t now = es_monotonic_ms (), next = -1;
    for (size_t i = 0; i < self->n_topics; i++) {
        topic_t *topic = self->topics[i];
        int64_t due = -1;
        if (topic->count) {
            if (self->linger_ms >= 0)
                due = topic->opened_ms + self->linger_ms;
        }
        else
        if (self->announce_ms >= 0 && topic->held == 0 && self->n_subscriptions > 0 &&
            s_wanted (self, topic))
            due = topic->last_ms + self->announce_ms;
        if (due >= 0 && (next < 0 || due < next))
            next = due;
    }
    if (self->head) {
        /* Held messages: a subscriber's pushback clears with no event to
           wake on, so retry soon. With nobody subscribed only a subscription
           changes anything; it wakes es_emitter_fd, and a loop that watches
           the clock alone still sees it within IDLE_LOOK_MS. */
        int64_t retry = now + (self->n_subscriptions ? 10 : IDLE_LOOK_MS);
        if (next < 0 || retry < next)
            next = retry;
    }
    if (next < 0)
        return -1;
    return next <= now ? 0 : (int) (next - now);
}

int es_emitter_fd (es_emitter_t *self)
{
    if (s_check (self) != ES_OK)
        return -1;
    int fd = -1;
    size_t size = sizeof fd;
    if (zmq_getsockopt (self->link.socket, ZMQ_FD, &fd, &size) != 0)
        return -1;
    return fd;
}

/*  Seals every batch and sends until nothing is held or TIMEOUT_MS passed. */
static int s_flush (es_emitter_t *self, int timeout_ms)
{
    for (size_t i = 0; i < self->n_topics; i++)
        s_seal (self, self->topics[i]);
    int64_t deadline = es_monotonic_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
    while (true) {
        s_read_subscriptions (self);
        s_drain (self);
        if (!self->head)
            return ES_OK;
        int64_t now = es_monotonic_ms ();
        if (timeout_ms >= 0 && now >= deadline) {
            es_format_error (self->error, "%" PRIu64 " events still held after %d ms (%s)",
                             self->stats.pending, timeout_ms,
                             self->n_subscriptions ? "subscribers push back"
                                                   : "no subscriber yet");
            return ES_ETIMEOUT;
        }
        /* Wake on a subscription; pushback has no event, so poll briefly. */
        zmq_pollitem_t item = {self->link.socket, 0, ZMQ_POLLIN, 0};
        long wait = timeout_ms < 0 ? 5 : (long) (deadline - now);
        if (zmq_poll (&item, 1, wait < 5 ? wait : 5) < 0 && errno == EINTR && timeout_ms < 0) {
            /* Waiting forever, a signal is the caller's only way out. */
            es_format_error (self->error, "interrupted by a signal, %" PRIu64 " events still held",
                             self->stats.pending);
            return ES_EINTR;
        }
    }
}

int es_emitter_flush (es_emitter_t *self, int timeout_ms)
{
    int rc = s_check (self);
    /* ES_NO_WAIT is no wait wherever it is given: a program that passes its
       close_timeout_ms here too must not wait forever. */
    return rc != ES_OK ? rc : s_flush (self, timeout_ms == ES_NO_WAIT ? 0 : timeout_ms);
}

int es_emitter_close (es_emitter_t *self)
{
    int rc = s_check (self);
    if (rc != ES_OK || self->closed)
        return rc;
    self->closed = true;
    int timeout = self->close_timeout_ms < 0 ? 0 : self->close_timeout_ms;
    int64_t deadline = es_monotonic_ms () + timeout;
    s_flush (self, timeout);
    if (self->announce_ms >= 0 && self->n_subscriptions > 0) {
        for (size_t i = 0; i < self->n_topics; i++)
            if (self->topics[i]->held == 0 && s_wanted (self, self->topics[i]))
                s_enqueue (self, self->topics[i], NULL, 0, 0, self->topics[i]->next_index);
        s_drain (self);
    }
    while (self->head)
        s_drop_head (self);
    /* libzmq writes out what it queued (in zmq_ctx_term, or in the
       background with a shared context) for what is left of the timeout
       only: close and destroy together keep to close_timeout_ms. */
    int64_t left = deadline - es_monotonic_ms ();
    int linger = left > 0 ? (int) left : 0;
    zmq_setsockopt (self->link.socket, ZMQ_LINGER, &linger, sizeof linger);
    return ES_OK;
}

uint64_t es_emitter_source_id (es_emitter_t *self)
{
    return self ? self->source : 0;
}

int es_emitter_stats (es_emitter_t *self, es_emitter_stats_t *stats)
{
    int rc = s_check (self);
    if (rc != ES_OK)
        return rc;
    if (!stats) {
        es_format_error (self->error, "no stats structure given");
        return ES_EINVAL;
    }
    *stats = self->stats;
    stats->subscriptions = self->n_subscriptions;
    return ES_OK;
}

int es_emitter_topic_stats (es_emitter_t *self, size_t i, es_topic_stats_t *stats)
{
    int rc = s_check (self);
    if (rc != ES_OK)
        return rc;
    if (i >= self->n_topics || !stats) {
        es_format_error (self->error, stats ? "no topic number %zu" : "no stats structure given",
                         i);
        return ES_EINVAL;
    }
    *stats = self->topics[i]->stats;
    return ES_OK;
}

const char *es_emitter_endpoint (es_emitter_t *self)
{
    return self ? es_link_endpoint (&self->link) : "";
}

const char *es_emitter_error (es_emitter_t *self)
{
    return self ? self->error : "no emitter";
}

void es_emitter_destroy (es_emitter_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    es_emitter_t *self = *self_p;
    bool forked = self->generation != es_fork_generation () || getpid () != self->pid;
    if (!forked) {
        if (self->link.socket)
            es_emitter_close (self);
        es_link_close (&self->link);
    }
    /* In a forked child the sockets belong to the parent's libzmq threads,
       which do not exist here: only memory is freed. */
    while (self->head) {
        message_t *message = self->head;
        self->head = message->next;
        free (message->body);
        free (message);
    }
    for (size_t i = 0; i < self->n_topics; i++) {
        free (self->topics[i]->name);
        free (self->topics[i]->body);
        free (self->topics[i]);
    }
    for (size_t i = 0; i < self->n_subscriptions; i++)
        free (self->subscriptions[i].prefix);
    free (self->subscriptions);
    free (self->topics);
    free (self->host);
    bson_destroy (&self->document);
    free (self);
    *self_p = NULL;
}
