/*  The collector: a SUB socket with the accounting of docs/protocol.md. */
#define _DEFAULT_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#define BUCKETS (ES_MAX_STREAMS * 2)

/*  What a hostile peer cannot do (docs/security-notes.md), with the values
    of core/sequence.ts: a stream's index may jump ahead by MAX_INDEX_JUMP at
    once, plus MAX_INDEX_RATE events a second since its previous message; a
    source id belongs to the first peer heard sending it until that peer has
    been silent for OWNER_IDLE_MS.                                           */
#define MAX_INDEX_JUMP ((uint64_t) 1 << 24)
#define MAX_INDEX_RATE 16777216.0
#define OWNER_IDLE_MS (10 * 60 * 1000)
#define OWNER_SIZE 64           /* "key:" and a Z85 key, or an IP address */

/*  An index range [from, to) that one path skipped and another may still
    deliver (docs/protocol.md 5.2), and when it opened.                      */
typedef struct {
    uint64_t from, to;
    int64_t at_ms;
} gap_t;

/*  A source id and the peer that owns it, while a stream of it is
    remembered (only when the collector only binds: its peers are then
    sources; connected to routers, its peers are routers and owners mean
    nothing).  */
typedef struct source_t {
    struct source_t *chain;
    uint64_t source;
    size_t streams;             /* remembered streams of this source */
    int64_t owner_ms;           /* the owner's last message */
    char owner[OWNER_SIZE];     /* "" while no peer was known */
} source_t;

/*  One (source, topic) stream: its next expected index, in a hash chain and
    in a least-recently-seen list (the oldest is forgotten past the limit). */
typedef struct stream_t {
    struct stream_t *chain;
    struct stream_t *newer, *older;
    source_t *owned;            /* its source's owner, when judged */
    uint64_t source;
    uint64_t expected;
    int64_t at_ms;              /* its last accepted message */
    /* Open gaps, in index order, which is also the order they opened in:
       every gap opens above the ones before it, and a piece keeps the time
       of the gap it was cut from. NULL while there are none. */
    gap_t *gaps;
    uint32_t n_gaps, gaps_size;
    struct stream_t *gapped_prev, *gapped_next;    /* in the collector's list */
    size_t length;
    char topic[];
} stream_t;

struct es_collector_t {
    unsigned generation;
    pid_t pid;
    es_link_t link;
    char error[ES_ERROR_SIZE];
    stream_t **buckets;
    stream_t *newest, *oldest;
    size_t n_streams;
    source_t **sources;         /* owners, when the collector binds */
    int64_t gap_hold_ms;        /* 0: a gap is lost at once (one path) */
    stream_t *gapped;           /* the streams with open gaps */
    int64_t gaps_due_ms;        /* no open gap expires before it */
    zmq_msg_t frames[3];
    size_t n_frames;            /* frames of the message being delivered */
    es_message_t message;
    size_t offset;              /* next document in message.body */
    uint64_t index;             /* its stream index */
    uint64_t skip;              /* duplicates still to skip */
    /* When a message fills gaps with replays in between: the [from, to)
       offsets of the events to deliver, ascending (n_pieces 0: deliver all
       but the first `skip`). At most one piece per gap, and the tail. */
    uint32_t pieces[2 * (ES_MAX_GAPS + 1)];
    size_t n_pieces, piece;
    uint64_t lost, duplicates;  /* found at the current message */
    bool delivered;             /* an event of it was delivered */
    bool closed;                /* es_collector_close: no socket any more */
    bson_t document;
    char topic[ES_MAX_TYPE_BYTES + 1];
    es_collector_stats_t stats;
};

static uint64_t s_hash (uint64_t source, const uint8_t *topic, size_t length)
{
    uint64_t hash = source ^ 0xcbf29ce484222325ull;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ topic[i]) * 0x100000001b3ull;
    return hash ^ hash >> 29;
}

static void s_unlink (es_collector_t *self, stream_t *stream)
{
    if (stream->newer)
        stream->newer->older = stream->older;
    else
        self->newest = stream->older;
    if (stream->older)
        stream->older->newer = stream->newer;
    else
        self->oldest = stream->newer;
}

static void s_push_newest (es_collector_t *self, stream_t *stream)
{
    stream->newer = NULL;
    stream->older = self->newest;
    if (self->newest)
        self->newest->newer = stream;
    self->newest = stream;
    if (!self->oldest)
        self->oldest = stream;
}

static source_t **s_source_link (es_collector_t *self, uint64_t source)
{
    source_t **link = &self->sources[(source ^ source >> 29) * 0x9E3779B97F4A7C15ull % BUCKETS];
    while (*link && (*link)->source != source)
        link = &(*link)->chain;
    return link;
}

/*  A stream whose last gap closed leaves the list of gapped streams, and
    gives its array back: gaps are rare, streams many.                       */
static void s_ungap (es_collector_t *self, stream_t *stream)
{
    free (stream->gaps);
    stream->gaps = NULL;
    stream->gaps_size = 0;
    if (stream->gapped_prev)
        stream->gapped_prev->gapped_next = stream->gapped_next;
    else
        self->gapped = stream->gapped_next;
    if (stream->gapped_next)
        stream->gapped_next->gapped_prev = stream->gapped_prev;
}

/*  Counts the first N gaps of STREAM lost and drops them.                  */
static void s_lose_gaps (es_collector_t *self, stream_t *stream, size_t n)
{
    for (size_t i = 0; i < n; i++)
        self->stats.lost += stream->gaps[i].to - stream->gaps[i].from;
    stream->n_gaps -= (uint32_t) n;
    if (stream->n_gaps)
        memmove (stream->gaps, stream->gaps + n, stream->n_gaps * sizeof *stream->gaps);
    else
        s_ungap (self, stream);
}

static void s_forget_oldest (es_collector_t *self)
{
    stream_t *victim = self->oldest;
    s_unlink (self, victim);
    /* Forgotten, a gap can no longer be filled: it is lost now, once. */
    if (victim->n_gaps)
        s_lose_gaps (self, victim, victim->n_gaps);
    if (victim->owned && --victim->owned->streams == 0) {
        source_t **owner = s_source_link (self, victim->source);
        *owner = victim->owned->chain;
        free (victim->owned);
    }
    stream_t **link = &self->buckets[s_hash (victim->source, (const uint8_t *) victim->topic,
                                             victim->length) % BUCKETS];
    while (*link != victim)
        link = &(*link)->chain;
    *link = victim->chain;
    free (victim);
    self->n_streams--;
}

/*  The stream of MESSAGE, created at `first` on first sight of a message
    with events (NULL: an announcement of a stream never seen, or no memory).
    OWNED: its source's owner entry when owners are judged, else NULL; a new
    stream of a new source gets one, owned by PEER.                          */
static stream_t *s_stream (es_collector_t *self, const es_message_t *message, source_t *owned,
                           const char *peer, int64_t now)
{
    uint64_t bucket = s_hash (message->source, message->topic, message->topic_size) % BUCKETS;
    for (stream_t *stream = self->buckets[bucket]; stream; stream = stream->chain)
        if (stream->source == message->source && stream->length == message->topic_size &&
            memcmp (stream->topic, message->topic, stream->length) == 0) {
            s_unlink (self, stream);
            s_push_newest (self, stream);
            return stream;
        }
    /* An announcement of a stream never seen tells nothing to account, and
       joining there would skip, as replays, events this collector never had
       (a source replaying from its checkpoint): docs/protocol.md 5. */
    if (message->count == 0)
        return NULL;
    if (self->n_streams >= ES_MAX_STREAMS) {
        /* The victim may be this source's last stream, and take it along. */
        if (owned && owned->streams == 1 && self->oldest->owned == owned)
            owned = NULL;
        s_forget_oldest (self);
    }
    if (self->sources && !owned) {
        owned = calloc (1, sizeof *owned);
        if (!owned)
            return NULL;
        owned->source = message->source;
        owned->owner_ms = now;
        snprintf (owned->owner, sizeof owned->owner, "%s", peer ? peer : "");
        *s_source_link (self, message->source) = owned;
    }
    stream_t *stream = malloc (sizeof *stream + message->topic_size + 1);
    if (!stream) {
        if (owned && owned->streams == 0) {
            source_t **link = s_source_link (self, message->source);
            *link = owned->chain;
            free (owned);
        }
        return NULL;
    }
    if (owned)
        owned->streams++;
    stream->owned = owned;
    stream->at_ms = now;
    stream->gaps = NULL;
    stream->n_gaps = stream->gaps_size = 0;
    stream->gapped_prev = stream->gapped_next = NULL;
    stream->source = message->source;
    stream->expected = message->first;
    stream->length = message->topic_size;
    memcpy (stream->topic, message->topic, message->topic_size);
    stream->topic[message->topic_size] = 0;
    stream->chain = self->buckets[bucket];
    self->buckets[bucket] = stream;
    s_push_newest (self, stream);
    self->n_streams++;
    return stream;
}

/*  Room for N gaps in STREAM; false when memory is short. Grown on demand,
    so that a stream that never skips costs nothing; one past ES_MAX_GAPS,
    since a gap is added (or split) before the oldest is counted lost.      */
static bool s_gap_room (stream_t *stream, size_t n)
{
    if (n <= stream->gaps_size)
        return true;
    size_t size = stream->gaps_size ? stream->gaps_size * 2 : 4;
    if (size > ES_MAX_GAPS + 1)
        size = ES_MAX_GAPS + 1;
    gap_t *gaps = realloc (stream->gaps, size * sizeof *gaps);
    if (!gaps)
        return false;
    stream->gaps = gaps;
    stream->gaps_size = (uint32_t) size;
    return true;
}

/*  Keeps at most ES_MAX_GAPS gaps, so that memory stays bounded whatever
    the peers send: past it the oldest is lost at once.                     */
static void s_bound_gaps (es_collector_t *self, stream_t *stream)
{
    if (stream->n_gaps > ES_MAX_GAPS)
        s_lose_gaps (self, stream, stream->n_gaps - ES_MAX_GAPS);
}

static void s_open_gap (es_collector_t *self, stream_t *stream, uint64_t from, uint64_t to,
                        int64_t now)
{
    if (!s_gap_room (stream, stream->n_gaps + 1)) {
        /* Out of memory, holding it is impossible: lost at once, as with
           one path, rather than forgotten. */
        self->lost += to - from;
        return;
    }
    if (stream->n_gaps == 0) {
        stream->gapped_prev = NULL;
        stream->gapped_next = self->gapped;
        if (self->gapped)
            self->gapped->gapped_prev = stream;
        self->gapped = stream;
    }
    stream->gaps[stream->n_gaps++] = (gap_t) {from, to, now};
    if (now + self->gap_hold_ms < self->gaps_due_ms)
        self->gaps_due_ms = now + self->gap_hold_ms;
    s_bound_gaps (self, stream);
}

static void s_piece (es_collector_t *self, uint64_t from, uint64_t to)
{
    self->pieces[2 * self->n_pieces] = (uint32_t) from;
    self->pieces[2 * self->n_pieces + 1] = (uint32_t) to;
    self->n_pieces++;
}

/*  A message starting below `expected` on a stream with open gaps: its
    events inside a gap, or from `expected` on, are delivered and close that
    part of the gap; the others are replays. Fills self->skip, and the
    pieces to deliver when they are not simply the events after it. */
static void s_fill (es_collector_t *self, stream_t *stream)
{
    const es_message_t *message = &self->message;
    uint64_t first = message->first, end = first + message->count, kept = 0;
    size_t left = 0, n = stream->n_gaps;
    for (size_t i = 0; i < n; i++) {
        gap_t gap = stream->gaps[i];
        uint64_t from = gap.from > first ? gap.from : first;
        uint64_t to = gap.to < end ? gap.to : end;
        if (from >= to) {
            stream->gaps[left++] = gap;
            continue;
        }
        s_piece (self, from - first, to - first);
        kept += to - from;
        if (gap.from < from && to < gap.to) {
            /* The message lies inside this gap, so it touches no other:
               the gap splits in two around it. */
            if (s_gap_room (stream, n + 1)) {
                memmove (stream->gaps + i + 1, stream->gaps + i, (n - i) * sizeof *stream->gaps);
                stream->gaps[i].to = from;
                stream->gaps[i + 1].from = to;
                left = n + 1;
                break;
            }
            /* No room for the second piece: the lower one is lost now. */
            self->stats.lost += from - gap.from;
            stream->gaps[left++] = (gap_t) {to, gap.to, gap.at_ms};
        }
        else
        if (gap.from < from)
            stream->gaps[left++] = (gap_t) {gap.from, from, gap.at_ms};
        else
        if (to < gap.to)
            stream->gaps[left++] = (gap_t) {to, gap.to, gap.at_ms};
    }
    stream->n_gaps = (uint32_t) left;
    if (end > stream->expected) {
        s_piece (self, stream->expected - first, message->count);
        kept += end - stream->expected;
    }
    self->skip = message->count - kept;
    /* Nothing, or one piece that ends the message: a plain front skip. */
    if (kept == 0 || (self->n_pieces == 1 && self->pieces[1] == message->count))
        self->n_pieces = 0;
    if (stream->n_gaps == 0)
        s_ungap (self, stream);
    else
        s_bound_gaps (self, stream);
}

/*  Counts as lost every gap held longer than gap_hold_ms, once NOW passed
    the earliest time one can expire (a gap closed since only makes that
    time early, and costs one pass that finds it later).                    */
static void s_expire_gaps (es_collector_t *self, int64_t now)
{
    if (now < self->gaps_due_ms)
        return;
    self->gaps_due_ms = INT64_MAX;
    stream_t *next;
    for (stream_t *stream = self->gapped; stream; stream = next) {
        next = stream->gapped_next;
        size_t due = 0;
        while (due < stream->n_gaps && now - stream->gaps[due].at_ms >= self->gap_hold_ms)
            due++;
        if (due)
            s_lose_gaps (self, stream, due);
        if (stream->n_gaps && stream->gaps[0].at_ms + self->gap_hold_ms < self->gaps_due_ms)
            self->gaps_due_ms = stream->gaps[0].at_ms + self->gap_hold_ms;
    }
}

static void s_release (es_collector_t *self)
{
    for (size_t i = 0; i < self->n_frames; i++)
        zmq_msg_close (&self->frames[i]);
    self->n_frames = 0;
}

/*  Whether every one of ENDPOINTS binds ("@..."): sources then connect
    here. With connected ones too, some peers are routers, which may carry
    one stream twice, and one socket cannot tell which way a message came,
    so no peer is judged (as core/collector.ts).                             */
static bool s_only_binds (const char *endpoints)
{
    char item[ES_ENDPOINT_SIZE];
    es_list_t list;
    es_list_step_t step;
    size_t binds = 0;
    es_list_start (&list, endpoints);
    while ((step = es_list_next (&list, item, sizeof item)) == ES_LIST_ENTRY) {
        if (item[0] != '@')
            return false;
        binds++;
    }
    return step == ES_LIST_END && binds > 0;
}

/*  How many endpoints ENDPOINTS lists, read as es_link_attach reads them
    (which refuses a list with a bad entry).                                 */
static size_t s_endpoint_count (const char *endpoints)
{
    char item[ES_ENDPOINT_SIZE];
    es_list_t list;
    size_t count = 0;
    es_list_start (&list, endpoints);
    while (es_list_next (&list, item, sizeof item) == ES_LIST_ENTRY)
        count++;
    return count;
}

es_collector_t *es_collector_new (const char *endpoints, const char *const *prefixes,
                                  size_t n_prefixes, const es_options_t *options)
{
    es_options_t defaults = {0};
    if (!options)
        options = &defaults;
    es_collector_t *self = calloc (1, sizeof *self);
    if (!self) {
        es_fail ("out of memory");
        return es_null_errno (ENOMEM);
    }
    self->generation = es_fork_generation ();
    self->pid = getpid ();
    /* Several endpoints are routers carrying the same streams (redundant
       paths): a gap one path leaves may be filled by another, late, so it
       waits before it is lost (as core/collector.ts). */
    if (options->gap_hold_ms > 0)
        self->gap_hold_ms = options->gap_hold_ms;
    else
    if (options->gap_hold_ms == 0 && s_endpoint_count (endpoints) > 1)
        self->gap_hold_ms = ES_GAP_HOLD_MS;
    self->gaps_due_ms = INT64_MAX;
    self->buckets = calloc (BUCKETS, sizeof *self->buckets);
    if (!self->buckets || es_link_open (&self->link, options, ZMQ_SUB, self->error) != ES_OK) {
        int code = self->buckets ? errno : ENOMEM;
        es_fail ("cannot create a collector: %s", self->buckets ? self->error : "out of memory");
        es_collector_destroy (&self);
        return es_null_errno (code);
    }
    if (s_only_binds (endpoints) && !(self->sources = calloc (BUCKETS, sizeof *self->sources))) {
        es_fail ("cannot create a collector: out of memory");
        es_collector_destroy (&self);
        return es_null_errno (ENOMEM);
    }
    int64_t max = options->max_message_bytes ? (int64_t) options->max_message_bytes
                                              : ES_DEFAULT_MAX_MESSAGE_BYTES;
    zmq_setsockopt (self->link.socket, ZMQ_MAXMSGSIZE, &max, sizeof max);
    for (size_t i = 0; prefixes && i < n_prefixes; i++)
        if (!prefixes[i]) {
            es_fail ("topic prefix %zu is NULL", i);
            es_collector_destroy (&self);
            return es_null_errno (EINVAL);
        }
    if (!prefixes || n_prefixes == 0)
        zmq_setsockopt (self->link.socket, ZMQ_SUBSCRIBE, "", 0);
    for (size_t i = 0; prefixes && i < n_prefixes; i++)
        zmq_setsockopt (self->link.socket, ZMQ_SUBSCRIBE, prefixes[i], strlen (prefixes[i]));
    if (es_link_attach (&self->link, options, endpoints, self->error) != ES_OK) {
        int code = errno;
        es_fail ("%s", self->error);
        es_collector_destroy (&self);
        return es_null_errno (code);
    }
    return self;
}

int es_collector_close (es_collector_t *self)
{
    if (!self)
        return ES_EINVAL;
    if (self->generation != es_fork_generation () || getpid () != self->pid) {
        es_format_error (self->error, "collector used in a child process after fork()");
        return ES_EFORKED;
    }
    if (self->closed)
        return ES_OK;
    self->closed = true;
    /* No later message can fill them (docs/protocol.md 5.2), as
       core/collector.ts counts them at its close. */
    while (self->gapped)
        s_lose_gaps (self, self->gapped, self->gapped->n_gaps);
    /* The message in hand stays: its events are accounted, and recv still
       delivers them (its frames do not need the socket). */
    es_link_close (&self->link);
    return ES_OK;
}

void es_collector_destroy (es_collector_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    es_collector_t *self = *self_p;
    if (self->generation == es_fork_generation () && getpid () == self->pid) {
        es_collector_close (self);
        s_release (self);
    }
    while (self->oldest)
        s_forget_oldest (self);
    free (self->buckets);
    free (self->sources);
    free (self);
    *self_p = NULL;
}

/*  Receives one whole message without waiting; returns its frame count
    (0: nothing there, -1: error in errno, EINTR included). Frames past the
    third are counted. */
static int s_receive (es_collector_t *self)
{
    size_t n = 0;
    int more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, self->link.socket, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close (&part);
            if (n == 0 && errno == EAGAIN)
                return 0;
            if (n > 0 && errno == EINTR)
                continue;       /* the rest of a message is there with its first frame */
            self->n_frames = n < 3 ? n : 3;    /* released by the caller */
            return -1;
        }
        more = zmq_msg_more (&part);
        if (n < 3)
            self->frames[n] = part;
        else
            zmq_msg_close (&part);
        n++;
    }
    self->n_frames = n < 3 ? n : 3;
    return (int) n;
}

/*  Drops the message being accounted as malformed, for REASON.              */
static bool s_refuse (es_collector_t *self, es_drop_reason_t reason)
{
    self->stats.malformed++;
    self->stats.by_reason[reason]++;
    return false;
}

/*  Accounts a freshly received message; true when it has events to deliver. */
static bool s_account (es_collector_t *self, int n_frames)
{
    self->stats.messages++;
    const uint8_t *data[3];
    size_t sizes[3];
    for (size_t i = 0; i < self->n_frames; i++) {
        data[i] = zmq_msg_data (&self->frames[i]);
        sizes[i] = zmq_msg_size (&self->frames[i]);
    }
    es_drop_reason_t reason = es_message_decode (data, sizes, (size_t) n_frames, &self->message);
    if (reason != ES_DROP_NONE)
        return s_refuse (self, reason);
    es_message_t *message = &self->message;
    memcpy (self->topic, message->topic, message->topic_size);
    self->topic[message->topic_size] = 0;
    self->offset = 0;
    self->skip = 0;
    self->n_pieces = 0;
    self->piece = 0;
    self->lost = 0;
    self->duplicates = 0;
    self->delivered = false;
    self->index = message->first;
    if (!message->has_header) {
        self->stats.unaccounted += message->count;
        return true;
    }
    int64_t now = es_coarse_ms ();
    /* Before this message is accounted, so that it cannot fill a gap that
       was due (docs/protocol.md 5.2: lost, then late copies are duplicates). */
    s_expire_gaps (self, now);
    source_t *owned = NULL;
    const char *peer = NULL;
    char key[OWNER_SIZE];
    if (self->sources) {
        /* docs/security-notes.md, stream ownership: the peer is a CURVE
           client's key (the ZAP User-Id), else its address. */
        const char *user = zmq_msg_gets (&self->frames[0], "User-Id");
        if (user && *user) {
            snprintf (key, sizeof key, "key:%s", user);
            peer = key;
        }
        else
            peer = zmq_msg_gets (&self->frames[0], "Peer-Address");
        owned = *s_source_link (self, message->source);
        if (owned && peer && strncmp (owned->owner, peer, OWNER_SIZE - 1) != 0) {
            if (owned->owner[0] && now - owned->owner_ms < OWNER_IDLE_MS)
                return s_refuse (self, ES_DROP_OWNER);
            snprintf (owned->owner, sizeof owned->owner, "%s", peer);    /* taken over */
        }
        if (owned)
            owned->owner_ms = now;
    }
    stream_t *stream = s_stream (self, message, owned, peer, now);
    if (stream) {
        if (message->first > stream->expected) {
            /* A jump no real sender can make (a forged header) would make
               the stream skip its next events as replays and count absurd
               losses: refused, and the stream does not move. */
            uint64_t jump = message->first - stream->expected;
            if (jump > MAX_INDEX_JUMP &&
                (double) jump > (double) MAX_INDEX_JUMP +
                                    MAX_INDEX_RATE * (double) (now - stream->at_ms) / 1000.0)
                return s_refuse (self, ES_DROP_INDEX);
            if (self->gap_hold_ms)
                s_open_gap (self, stream, stream->expected, message->first, now);
            else
                self->lost = jump;
        }
        else
        if (message->first < stream->expected) {
            if (stream->n_gaps)
                s_fill (self, stream);
            else {
                uint64_t behind = stream->expected - message->first;
                self->skip = behind < message->count ? behind : message->count;
            }
        }
        self->stats.lost += self->lost;
        self->stats.duplicates += self->skip;
        self->duplicates = self->skip;
        uint64_t end = message->first + message->count;
        if (end > stream->expected)
            stream->expected = end;
        stream->at_ms = now;
    }
    if (message->count == 0)
        self->stats.announcements++;
    self->stats.streams = self->n_streams;
    return message->count > self->skip;
}

/*  The next deliverable event of the current message, if any. */
static bool s_next_event (es_collector_t *self, es_event_t *event)
{
    while (self->n_frames && es_message_next (&self->message, &self->offset, &self->document)) {
        uint64_t index = self->index++;
        if (self->n_pieces) {
            uint64_t offset = index - self->message.first;
            const uint32_t *piece = self->pieces + 2 * self->piece;
            if (offset == piece[1]) {
                if (++self->piece == self->n_pieces)
                    return false;       /* the rest are replays */
                piece += 2;
            }
            if (offset < piece[0])
                continue;
            if (offset == piece[0])
                self->delivered = false;
        }
        else
        if (self->skip) {
            self->skip--;
            continue;
        }
        if (!es_envelope_valid (&self->document, self->message.topic, self->message.topic_size)) {
            self->stats.rejected++;
            continue;
        }
        self->stats.events++;
        event->topic = self->topic;
        event->document = &self->document;
        event->accounted = self->message.has_header;
        event->source = self->message.has_header ? self->message.source : 0;
        event->index = self->message.has_header ? index : 0;
        event->first_in_message = !self->delivered;
        event->first = self->message.has_header ? self->message.first : 0;
        event->count = self->message.count;
        event->lost = self->lost;
        event->duplicates = self->duplicates;
        if (self->n_pieces) {
            /* Each piece is reported as a message of its own (as
               core/collector.ts delivers it as a batch); the message's
               counts go with the first, so per-message reports add up. */
            const uint32_t *piece = self->pieces + 2 * self->piece;
            event->first = self->message.first + piece[0];
            event->count = piece[1] - piece[0];
            if (self->piece > 0)
                event->lost = event->duplicates = 0;
        }
        self->delivered = true;
        return true;
    }
    return false;
}

/*  A signal interrupted the wait: the caller's handler may want it to stop
    (CZMQ's convention), so the wait ends here instead of going on.         */
static int s_interrupted (es_collector_t *self)
{
    es_format_error (self->error, "interrupted by a signal");
    return ES_EINTR;
}

int es_collector_recv (es_collector_t *self, es_event_t *event, int timeout_ms)
{
    if (!self)
        return ES_EINVAL;
    if (self->generation != es_fork_generation ()) {
        es_format_error (self->error, "collector used in a child process after fork()");
        return ES_EFORKED;
    }
    if (!event) {
        es_format_error (self->error, "no event structure given");
        return ES_EINVAL;
    }
    if (timeout_ms == ES_NO_WAIT)
        timeout_ms = 0;
    int64_t deadline = es_monotonic_ms () + timeout_ms;
    while (true) {
        if (s_next_event (self, event))
            return 1;
        s_release (self);
        if (self->closed) {
            es_format_error (self->error, "collector is closed");
            return ES_ECLOSED;
        }
        int n = s_receive (self);
        if (n < 0) {
            if (errno == ETERM) {
                es_format_error (self->error, "the ZeroMQ context was terminated");
                return ES_ECLOSED;
            }
            if (errno == EINTR)
                return s_interrupted (self);
            es_format_error (self->error, "receive failed: %s", zmq_strerror (errno));
            return ES_EZMQ;
        }
        if (n > 0) {
            if (!s_account (self, n))
                s_release (self);
            continue;
        }
        /* Idle: a held gap expires even when no message comes (read in the
           stats, as core/sequence.ts's lost getter does). */
        if (self->gapped)
            s_expire_gaps (self, es_coarse_ms ());
        long wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - es_monotonic_ms ();
            if (left <= 0)
                return 0;
            wait = (long) left;
        }
        zmq_pollitem_t item = {self->link.socket, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, wait) < 0) {
            if (errno == ETERM) {
                es_format_error (self->error, "the ZeroMQ context was terminated");
                return ES_ECLOSED;
            }
            if (errno == EINTR)
                return s_interrupted (self);
        }
    }
}

int es_collector_stats (es_collector_t *self, es_collector_stats_t *stats)
{
    if (!self)
        return ES_EINVAL;
    if (self->generation != es_fork_generation ())
        return ES_EFORKED;
    if (!stats) {
        es_format_error (self->error, "no stats structure given");
        return ES_EINVAL;
    }
    if (self->gapped)
        s_expire_gaps (self, es_coarse_ms ());
    *stats = self->stats;
    stats->streams = self->n_streams;
    return ES_OK;
}

const char *es_collector_endpoint (es_collector_t *self)
{
    return self ? es_link_endpoint (&self->link) : "";
}

const char *es_collector_error (es_collector_t *self)
{
    return self ? self->error : "no collector";
}
