/*
 * An eventstorm receiver in C with libeventstorm: subscribes by prefix and
 * prints each message's accounting, as docs/protocol.md describes it.
 *
 * Build: cc -o receive receive.c $(pkg-config --cflags --libs eventstorm)
 * Usage: receive [--curve-server FILE|KEY[,...]] [--curve-secret FILE] ENDPOINT [PREFIX] [EVENTS]
 *   --curve-server  the router's public key or certificate; with several connecting
 *                   endpoints in ENDPOINT, one per endpoint, comma-separated, in order
 *                   (one serves all)
 *   ENDPOINT  `>tcp://host:5556` or a bare address connects, `@tcp://0.0.0.0:5556` binds
 *             (`@tcp://127.0.0.1:*` binds a port the system picks; the first line names it)
 *   PREFIX    topic prefix to subscribe to (default: everything)
 *   EVENTS    exit after this many delivered events (default: never)
 *
 * Prints one line per message and, at the end (also when stopped by SIGINT or
 * SIGTERM), the totals:
 *   total events=N lost=N duplicates=N malformed=N
 */
#define _POSIX_C_SOURCE 200809L     /* sigaction */
#include <eventstorm.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t s_stop;

static void s_on_signal (int signal)
{
    (void) signal;
    s_stop = 1;
}

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
    argc -= arg - 1;
    argv += arg - 1;
    if (argc < 2 || argc > 4 || strncmp (argv[1], "--", 2) == 0) {
        fprintf (stderr, "usage: receive [--curve-server FILE|KEY[,...]] [--curve-secret FILE] "
                         "ENDPOINT [PREFIX] [EVENTS]\n");
        return 2;
    }
    const char *prefix = argc > 2 ? argv[2] : "";
    long long wanted = argc > 3 ? atoll (argv[3]) : -1;
    es_collector_t *collector = es_collector_new (argv[1], &prefix, 1, &options);
    if (!collector) {
        fprintf (stderr, "receive: %s\n", es_last_error ());
        return 2;
    }
    fprintf (stderr, "receive: %s %s\n", argv[1][0] == '@' ? "listening on" : "connected to",
             es_collector_endpoint (collector));
    /* Without SA_RESTART a signal ends the blocking receive with ES_EINTR,
       and the loop stops at the flag. */
    struct sigaction action = {.sa_handler = s_on_signal};
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    es_event_t event;
    es_collector_stats_t stats = {0};
    int status = 0;
    while (!s_stop && (wanted < 0 || (long long) stats.events < wanted)) {
        int rc = es_collector_recv (collector, &event, -1);
        if (rc == ES_EINTR)
            continue;           /* stops if it was SIGINT or SIGTERM */
        if (rc < 0) {
            fprintf (stderr, "receive: %s\n", es_collector_error (collector));
            status = 1;
            break;
        }
        if (event.first_in_message && event.accounted)
            printf ("%s source=%016" PRIx64 " first=%" PRIu64 " count=%u lost=%" PRIu64
                    " duplicates=%" PRIu64 "\n",
                    event.topic, event.source, event.first, event.count, event.lost,
                    event.duplicates);
        else
        if (event.first_in_message)
            printf ("%s unaccounted count=%u\n", event.topic, event.count);
        es_collector_stats (collector, &stats);
    }
    /* Closed first, so that gaps still held for another path count as lost
       (docs/protocol.md 5.2), as the TypeScript receivers count them. */
    es_collector_close (collector);
    es_collector_stats (collector, &stats);
    printf ("total events=%" PRIu64 " lost=%" PRIu64 " duplicates=%" PRIu64
            " malformed=%" PRIu64 "\n",
            stats.events, stats.lost, stats.duplicates, stats.malformed);
    es_collector_destroy (&collector);
    return status;
}
