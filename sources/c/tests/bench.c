/*  Benchmark driver (bench/c_emitter_bench.ts runs it):
      es_bench emit ENDPOINT COUNT SIZE     the C emitter, batched
      es_bench pub ENDPOINT COUNT SIZE      libzmq PUB, one message per event (baseline)
      es_bench sub ENDPOINT COUNT           libzmq SUB for the baseline
    Each prints one line of JSON. */
#define _DEFAULT_SOURCE
#include <eventstorm.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

/*  CPU seconds of this process (its libzmq I/O thread included). */
static double s_cpu (void)
{
    struct rusage usage;
    getrusage (RUSAGE_SELF, &usage);
    return (double) usage.ru_utime.tv_sec + (double) usage.ru_utime.tv_usec / 1e6 +
           (double) usage.ru_stime.tv_sec + (double) usage.ru_stime.tv_usec / 1e6;
}

static double s_now (void)
{
    struct timespec t;
    clock_gettime (CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

/*  Waits while the emitter holds more than a burst's worth of events that
    the router has not taken yet, as a producer that must lose nothing does
    (the baseline's PUB blocks instead): emitting 3,000,000 events at once
    would hold 750 MB, past max_pending_bytes, and drop the oldest. */
static void s_keep_pace (es_emitter_t *emitter)
{
    es_emitter_stats_t stats;
    for (es_emitter_stats (emitter, &stats); stats.pending > 65536;
         es_emitter_stats (emitter, &stats)) {
        usleep (100);
        es_emitter_tick (emitter);
    }
}

/*  Fields that make the whole encoded event SIZE bytes. */
static bson_t *s_fields (size_t size)
{
    bson_t *fields = bson_new ();
    BSON_APPEND_UTF8 (fields, "path", "/index.html");
    BSON_APPEND_INT32 (fields, "status", 200);
    /* envelope (type http.hit, time, host bench) 54 bytes with the document's
       length and end, the pad element 10 bytes plus its text */
    size_t used = 54 + (fields->len - 5) + 10;
    size_t pad = size > used ? size - used : 0;
    char *text = malloc (pad + 1);
    memset (text, 'x', pad);
    text[pad] = 0;
    BSON_APPEND_UTF8 (fields, "pad", text);
    free (text);
    return fields;
}

int main (int argc, char *argv[])
{
    if (argc < 4) {
        fprintf (stderr, "usage: es_bench emit|pub|sub ENDPOINT COUNT [SIZE]\n");
        return 2;
    }
    const char *mode = argv[1], *endpoint = argv[2];
    long count = atol (argv[3]);
    size_t size = argc > 4 ? (size_t) atol (argv[4]) : 250;
    if (strcmp (mode, "emit") == 0) {
        es_options_t options = {.host = "bench"};
        es_emitter_t *emitter = es_emitter_new (endpoint, &options);
        if (!emitter) {
            fprintf (stderr, "es_bench: %s\n", es_last_error ());
            return 2;
        }
        bson_t *fields = s_fields (size);
        es_emit (emitter, "http.hit", fields);
        if (es_emitter_flush (emitter, 30000) != ES_OK) {
            fprintf (stderr, "es_bench: %s\n", es_emitter_error (emitter));
            return 1;
        }
        double start = s_now (), cpu = s_cpu ();
        for (long n = 1; n < count; n++) {
            es_emit (emitter, "http.hit", fields);
            if (n % 1024 == 0)
                s_keep_pace (emitter);
        }
        int rc = es_emitter_flush (emitter, 30000);
        double seconds = s_now () - start;
        cpu = s_cpu () - cpu;
        es_emitter_stats_t stats;
        es_emitter_close (emitter);
        es_emitter_stats (emitter, &stats);
        printf ("{\"events\": %ld, \"seconds\": %.6f, \"cpu\": %.6f, \"sent\": %" PRIu64 ", \"dropped\": %" PRIu64
                ", \"bytes\": %" PRIu64 ", \"messages\": %" PRIu64 ", \"flushed\": %s}\n",
                count, seconds, cpu, stats.sent, stats.dropped, stats.bytes, stats.messages,
                rc == ES_OK ? "true" : "false");
        bson_destroy (fields);
        es_emitter_destroy (&emitter);
        return 0;
    }
    void *context = zmq_ctx_new ();
    if (strcmp (mode, "pub") == 0) {
        void *pub = zmq_socket (context, ZMQ_PUB);
        int hwm = 0;        /* the baseline loses nothing: it blocks instead */
        zmq_setsockopt (pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (zmq_connect (pub, endpoint + (endpoint[0] == '>')) != 0) {
            fprintf (stderr, "es_bench: %s\n", zmq_strerror (errno));
            return 2;
        }
        char *payload = calloc (1, size);
        usleep (300 * 1000);
        double start = s_now ();
        for (long n = 0; n < count; n++) {
            zmq_send (pub, "http.hit", 8, ZMQ_SNDMORE);
            zmq_send (pub, payload, size, 0);
        }
        int linger = -1;
        zmq_setsockopt (pub, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close (pub);
        zmq_ctx_term (context);
        printf ("{\"events\": %ld, \"seconds\": %.6f}\n", count, s_now () - start);
        free (payload);
        return 0;
    }
    void *sub = zmq_socket (context, ZMQ_SUB);
    int hwm = 0;
    zmq_setsockopt (sub, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_bind (sub, endpoint + (endpoint[0] == '@')) != 0) {
        fprintf (stderr, "es_bench: %s\n", zmq_strerror (errno));
        return 2;
    }
    fprintf (stderr, "es_bench: listening\n");
    long received = 0;
    double start = 0;
    zmq_msg_t part;
    zmq_msg_init (&part);
    while (received < count) {
        if (zmq_msg_recv (&part, sub, 0) < 0)
            break;
        if (!zmq_msg_more (&part)) {
            if (received++ == 0)
                start = s_now ();
        }
    }
    printf ("{\"events\": %ld, \"seconds\": %.6f}\n", received, s_now () - start);
    zmq_msg_close (&part);
    zmq_close (sub);
    zmq_ctx_term (context);
    return 0;
}
