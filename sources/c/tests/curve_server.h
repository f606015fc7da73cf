/*  Real CURVE servers for the tests: libzmq sockets bound on loopback TCP with
    a key pair of their own, as routers are, and a monitor that tells whether a
    client's handshake succeeded or failed (a wrong server key fails it). */
#ifndef ES_CURVE_SERVER_H_INCLUDED
#define ES_CURVE_SERVER_H_INCLUDED
#include "check.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

typedef struct {
    void *socket;
    void *monitor;             /* a PAIR receiving the socket's handshake events */
    char public_key[41];       /* what a client gives as its server key          */
    char secret_key[41];
    char endpoint[256];        /* tcp://127.0.0.1:PORT                           */
} curve_server_t;

#define CURVE_HANDSHAKE_FAILED                                                        \
    (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |     \
     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

/*  Binds a TYPE socket as a CURVE server with a fresh key pair, or with
    SAME's pair when SAME is not NULL. A SUB subscribes to everything. */
static void curve_server_start (void *context, curve_server_t *server, int type,
                                const curve_server_t *same)
{
    static int monitors;
    memset (server, 0, sizeof *server);
    if (same) {
        memcpy (server->public_key, same->public_key, sizeof server->public_key);
        memcpy (server->secret_key, same->secret_key, sizeof server->secret_key);
    }
    else
        CHECK (zmq_curve_keypair (server->public_key, server->secret_key) == 0);
    server->socket = zmq_socket (context, type);
    int on = 1, zero = 0;
    CHECK (zmq_setsockopt (server->socket, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK (zmq_setsockopt (server->socket, ZMQ_CURVE_SERVER, &on, sizeof on) == 0);
    CHECK (zmq_setsockopt (server->socket, ZMQ_CURVE_SECRETKEY, server->secret_key, 40) == 0);
    if (type == ZMQ_SUB)
        CHECK (zmq_setsockopt (server->socket, ZMQ_SUBSCRIBE, "", 0) == 0);
    /* Every client's subscription shows, not only a topic's first one: a
       client gone may not be unsubscribed yet when the next one comes. */
    if (type == ZMQ_XPUB)
        CHECK (zmq_setsockopt (server->socket, ZMQ_XPUB_VERBOSE, &on, sizeof on) == 0);
    char address[64];
    snprintf (address, sizeof address, "inproc://curve-monitor-%d", monitors++);
    CHECK (zmq_socket_monitor (server->socket, address,
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | CURVE_HANDSHAKE_FAILED) == 0);
    server->monitor = zmq_socket (context, ZMQ_PAIR);
    CHECK (zmq_setsockopt (server->monitor, ZMQ_LINGER, &zero, sizeof zero) == 0);
    CHECK (zmq_connect (server->monitor, address) == 0);
    CHECK (zmq_bind (server->socket, "tcp://127.0.0.1:*") == 0);
    size_t size = sizeof server->endpoint;
    CHECK (zmq_getsockopt (server->socket, ZMQ_LAST_ENDPOINT, server->endpoint, &size) == 0);
}

/*  The next handshake event within TIMEOUT_MS: ZMQ_EVENT_HANDSHAKE_SUCCEEDED,
    one of CURVE_HANDSHAKE_FAILED, or 0 when none came. */
static int curve_server_handshake (curve_server_t *server, int timeout_ms)
{
    zmq_pollitem_t item = {server->monitor, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return 0;
    uint8_t head[6];
    CHECK (zmq_recv (server->monitor, head, sizeof head, 0) == (int) sizeof head);
    char endpoint[256];
    CHECK (zmq_recv (server->monitor, endpoint, sizeof endpoint, 0) >= 0);
    return head[0] | head[1] << 8;
}

static void curve_server_stop (curve_server_t *server)
{
    zmq_socket_monitor (server->socket, NULL, 0);
    zmq_close (server->monitor);
    zmq_close (server->socket);
}
#endif
