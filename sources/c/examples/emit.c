/*
 * Emits events with libeventstorm, e.g. into a router's sources side.
 *
 * Build: cc -o emit emit.c $(pkg-config --cflags --libs eventstorm)
 * Usage: emit [--curve-server FILE|KEY[,...]] [--curve-secret FILE] ENDPOINT TYPE COUNT [JSON]
 *   --curve-server  the router's public key or certificate; with several connecting
 *                   endpoints in ENDPOINT, one per endpoint, comma-separated, in order
 *                   (one serves all)
 *   Emits COUNT events of TYPE with the JSON object's fields plus a field
 *   `n` (0 ... COUNT-1), flushes (waiting up to 10 s for a subscriber), and
 *   prints the stats: sent=N dropped=N unsubscribed=N source=HEX
 */
#include <eventstorm.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main (int argc, char *argv[])
{
    es_options_t options = {0};
    int arg = 1;
    for (; arg + 1 < argc && strncmp (argv[arg], "--", 2) == 0; arg += 2) {
        if (strcmp (argv[arg], "--curve-server") == 0)
            options.curve_server_key = argv[arg + 1];
        else
        if (strcmp (argv[arg], "--curve-secret") == 0)
            options.curve_secret_file = argv[arg + 1];
        else
            break;
    }
    if (argc - arg < 3 || argc - arg > 4) {
        fprintf (stderr, "usage: emit [--curve-server FILE|KEY[,...]] [--curve-secret FILE] "
                         "ENDPOINT TYPE COUNT [JSON]\n");
        return 2;
    }
    const char *type = argv[arg + 1];
    long long count = atoll (argv[arg + 2]);
    bson_error_t error;
    bson_t *fields = bson_new_from_json (
        (const uint8_t *) (argc - arg == 4 ? argv[arg + 3] : "{}"), -1, &error);
    if (!fields) {
        fprintf (stderr, "emit: bad JSON: %s\n", error.message);
        return 2;
    }
    es_emitter_t *emitter = es_emitter_new (argv[arg], &options);
    if (!emitter) {
        fprintf (stderr, "emit: %s\n", es_last_error ());
        return 2;
    }
    int status = 0;
    for (long long n = 0; n < count; n++) {
        bson_t event;
        bson_copy_to (fields, &event);
        BSON_APPEND_INT64 (&event, "n", n);
        int rc = es_emit (emitter, type, &event);
        bson_destroy (&event);
        if (rc != ES_OK) {
            fprintf (stderr, "emit: %s\n", es_emitter_error (emitter));
            status = 1;
            break;
        }
        if (n == 0 && es_emitter_flush (emitter, 10000) != ES_OK) {
            fprintf (stderr, "emit: %s\n", es_emitter_error (emitter));
            status = 1;
            break;
        }
    }
    if (status == 0 && es_emitter_flush (emitter, 10000) != ES_OK) {
        fprintf (stderr, "emit: %s\n", es_emitter_error (emitter));
        status = 1;
    }
    es_emitter_close (emitter);
    es_emitter_stats_t stats;
    es_emitter_stats (emitter, &stats);
    printf ("sent=%" PRIu64 " dropped=%" PRIu64 " unsubscribed=%" PRIu64 " source=%016" PRIx64
            "\n",
            stats.sent, stats.dropped, stats.unsubscribed, es_emitter_source_id (emitter));
    es_emitter_destroy (&emitter);
    bson_destroy (fields);
    return status;
}
