/*  Sockets: contexts, CZMQ-style endpoint lists ("@addr" binds, ">addr" or
    "addr" connects). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

/*  Reads the next endpoint of ENDPOINTS (from LIST) into ITEM
    (ES_ENDPOINT_SIZE bytes): 1, 0 at the end, or ES_EINVAL for an empty or
    overlong entry, in the words of core/endpoint.ts ("invalid endpoint
    'TEXT': empty"), the entry's place added when the list has several.     */
static int s_next (const char *endpoints, es_list_t *list, char *item, char *error)
{
    es_list_step_t step = es_list_next (list, item, ES_ENDPOINT_SIZE);
    if (step == ES_LIST_END || step == ES_LIST_ENTRY)
        return step == ES_LIST_ENTRY;
    char place[48] = "";
    bool alone = list->index == 1 && es_list_done (list);
    if (step == ES_LIST_EMPTY) {
        if (!alone)
            snprintf (place, sizeof place, " (entry %zu)", list->index);
        es_format_error (error, "invalid endpoint '%.160s': empty%s", endpoints, place);
    }
    else
        es_format_error (error, "invalid endpoint '%.160s': too long (entry %zu, over %d bytes)",
                         endpoints, list->index, ES_ENDPOINT_SIZE - 1);
    errno = EINVAL;
    return ES_EINVAL;
}

/*  How many endpoints of ENDPOINTS connect (into *CONNECTING), or ES_EINVAL
    for a list with a bad entry or none.                                     */
static int s_count (const char *endpoints, size_t *connecting, char *error)
{
    if (!endpoints || !*endpoints) {
        es_format_error (error, "no endpoint given");
        errno = EINVAL;
        return ES_EINVAL;
    }
    char item[ES_ENDPOINT_SIZE];
    es_list_t list;
    int rc;
    *connecting = 0;
    es_list_start (&list, endpoints);
    while ((rc = s_next (endpoints, &list, item, error)) == 1)
        if (item[0] != '@')
            (*connecting)++;
    return rc == 0 ? ES_OK : rc;
}

static int s_attach (void *socket, const char *endpoints, const es_curve_t *curve, char *error)
{
    char item[ES_ENDPOINT_SIZE];
    es_list_t list;
    size_t connected = 0;
    es_list_start (&list, endpoints);
    while (s_next (endpoints, &list, item, error) == 1) {
        bool bind = item[0] == '@';
        const char *address = (item[0] == '@' || item[0] == '>') ? item + 1 : item;
        /* Without ZMQ_IPV6 libzmq takes tcp://[::1]:PORT for no device at
           all. Only an IPv6 literal turns it on (docs/protocol.md 1.2): with
           it on, a name that has both addresses (localhost, on most hosts)
           resolves to IPv6 only and misses a peer bound to IPv4 or *, and a
           bind to * reads back as tcp://[::]:PORT. @tcp://[::]:PORT binds
           IPv4 and IPv6 both. */
        int ipv6 = strncmp (address, "tcp://[", 7) == 0;
        zmq_setsockopt (socket, ZMQ_IPV6, &ipv6, sizeof ipv6);
        if (!bind && es_curve_connecting (socket, curve, connected++, error) != ES_OK) {
            errno = EINVAL;
            return ES_EINVAL;
        }
        int rc = bind ? zmq_bind (socket, address) : zmq_connect (socket, address);
        if (rc != 0) {
            es_format_error (error, "cannot %s %.200s: %s", bind ? "bind" : "connect", address,
                             zmq_strerror (errno));
            return ES_EINVAL;
        }
    }
    return ES_OK;
}

const char *es_link_endpoint (es_link_t *link)
{
    size_t size = sizeof link->endpoint;
    if (!link->socket
        || zmq_getsockopt (link->socket, ZMQ_LAST_ENDPOINT, link->endpoint, &size) != 0)
        link->endpoint[0] = 0;
    return link->endpoint;
}

int es_link_open (es_link_t *link, const es_options_t *options, int type, char *error)
{
    link->own_context = !options->zmq_context;
    link->context = options->zmq_context ? options->zmq_context : zmq_ctx_new ();
    link->socket = link->context ? zmq_socket (link->context, type) : NULL;
    if (!link->socket) {
        es_format_error (error, "cannot create a ZeroMQ socket: %s", zmq_strerror (errno));
        return ES_EZMQ;
    }
    int zero = 0;
    zmq_setsockopt (link->socket, ZMQ_LINGER, &zero, sizeof zero);
    return ES_OK;
}

int es_link_attach (es_link_t *link, const es_options_t *options, const char *endpoints,
                    char *error)
{
    size_t connecting;
    if (s_count (endpoints, &connecting, error) != ES_OK)
        return ES_EINVAL;
    es_curve_t curve;
    if (es_curve_apply (link->socket, options, connecting, &curve, error) != ES_OK) {
        errno = EINVAL;
        return ES_EINVAL;
    }
    int rc = s_attach (link->socket, endpoints, &curve, error);
    es_curve_free (&curve);
    return rc;
}

void es_link_close (es_link_t *link)
{
    if (link->socket)
        zmq_close (link->socket);
    if (link->own_context && link->context)
        zmq_ctx_term (link->context);
    link->socket = link->context = NULL;
}
