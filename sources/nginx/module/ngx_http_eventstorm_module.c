/*
 * ngx_http_eventstorm_module - one eventstorm event (`http.hit` by default) per
 * request, emitted from nginx's log phase through libeventstorm: no access log
 * written, re-read and parsed.
 *
 * Each worker opens its own emitter in init_process (after fork: a ZeroMQ socket
 * must not cross fork), so each worker is its own stream with its own source id.
 * Emitting never blocks: libeventstorm batches, and what it cannot hold is dropped
 * and counted; each worker publishes its counters as `eventstorm.stats` events.
 * A worker that exits (nginx -s reload, quit, stop) flushes what it holds for at
 * most eventstorm_flush_timeout, then counts the rest as dropped.
 *
 * `nginx -t` refuses what every worker would refuse (endpoints, keys, fields), so
 * that a configuration that passes it emits: a worker that cannot open its emitter
 * serves requests without events. ngx_http_eventstorm_check_module, a core module in
 * the same .so, makes the checks that need directives outside `http`
 * (worker_processes, user), which are parsed after it or not at all by then.
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/random.h>
#include <zmq.h>
#include <eventstorm.h>

#include "ngx_http_eventstorm_fields.h"

#define ES_STATS_TYPE "eventstorm.stats"
#define ES_MAX_FIELD_NAME 200
#define ES_LINGER_MS 100      /* how long a partial batch waits (es_options_t.linger_ms) */
#define ES_RESERVED_PREFIX "eventstorm."   /* protocol 2.1: only eventstorm sends it */
#define ES_Z85_KEY 40         /* a CURVE key as Z85 text */
#define ES_MAX_CERT 65536     /* a zcert file is a few hundred bytes */
#define ES_IPC_PATH_MAX 107   /* sizeof sockaddr_un.sun_path - 1 */
/* libeventstorm takes milliseconds as int: 24d is the whole number of days below 2^31 ms. */
#define ES_MAX_MSEC ((ngx_msec_t) 24 * 24 * 60 * 60 * 1000)
#define ES_RETRY_FIRST 50     /* ms before the first new attempt to bind, doubled up to: */
#define ES_RETRY_MAX 1000

typedef struct {
    char name[ES_MAX_FIELD_NAME + 1];
    es_field_kind_t kind;
    ngx_int_t index;                  /* variable index, or NGX_ERROR for value */
    ngx_http_complex_value_t *value;  /* a value that is not one plain variable */
    ngx_flag_t request_id;            /* the variable is $request_id */
} ngx_http_eventstorm_field_t;

typedef struct {
    ngx_str_t to;                     /* NUL terminated; the arguments joined */
    ngx_str_t curve_server;           /* Z85 keys or certificates' full paths, one per
                                         connecting endpoint (or one for all), joined
                                         by commas as libeventstorm 1.3 reads them */
    ngx_uint_t curve_servers;         /* how many values eventstorm_curve_server has */
    ngx_uint_t connecting;            /* eventstorm_to entries that connect */
    ngx_str_t curve_secret;           /* a secret certificate's full path */
    ngx_msec_t stats_interval;
    ngx_msec_t flush_timeout;
    size_t buffer;
    ngx_array_t *defaults;            /* ngx_http_eventstorm_field_t */
    ngx_flag_t bind;                  /* an eventstorm_to entry binds (@) */
    ngx_uid_t secret_owner;           /* curve_secret's owner, for the worker user check */
    /* Where eventstorm_to and eventstorm_curve_secret are: the checks made after
       parsing (ngx_http_eventstorm_check_conf) point there. */
    ngx_str_t to_file, secret_file, server_file;
    ngx_uint_t to_line, secret_line, server_line;
} ngx_http_eventstorm_main_conf_t;

typedef struct {
    ngx_flag_t enable;
    ngx_str_t type;                   /* NUL terminated */
    ngx_array_t *fields;              /* own fields, NULL: inherit */
    ngx_array_t *merged;              /* defaults, then own fields replacing or adding */
} ngx_http_eventstorm_loc_conf_t;

/* Per worker. */
typedef struct {
    es_emitter_t *emitter;
    bson_t *fields;                   /* reused per request: no allocation once grown */
    ngx_event_t tick;
    ngx_msec_t next_stats;
    ngx_msec_t last_stats;
    uint64_t refused;                 /* es_emit returned an error: never queued */
    ngx_uint_t warned;
    /* Bind mode: after a reload the old workers hold the address until they exit,
       so the bind is retried on this timer; what requests log meanwhile is counted. */
    ngx_event_t retry;
    ngx_msec_t retry_delay;
    ngx_msec_t retry_since;
    ngx_uint_t retrying;
    uint64_t unbound;                 /* events of requests while not bound: dropped */
    uint64_t id_seed[2];              /* random per worker: see ngx_http_eventstorm_request_id */
    uint64_t id_count;
} ngx_http_eventstorm_worker_t;

static ngx_http_eventstorm_worker_t ngx_http_eventstorm_worker;

static ngx_int_t ngx_http_eventstorm_init (ngx_conf_t *cf);
static void *ngx_http_eventstorm_create_main_conf (ngx_conf_t *cf);
static char *ngx_http_eventstorm_init_main_conf (ngx_conf_t *cf, void *conf);
static void *ngx_http_eventstorm_create_loc_conf (ngx_conf_t *cf);
static char *ngx_http_eventstorm_merge_loc_conf (ngx_conf_t *cf, void *parent, void *child);
static char *ngx_http_eventstorm_to (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_eventstorm_curve_server (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_eventstorm_msec_bounds (ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_eventstorm_size_bounds (ngx_conf_t *cf, void *post, void *data);
static char *ngx_http_eventstorm_type (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_eventstorm_curve_secret (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_eventstorm_field (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_eventstorm_init_process (ngx_cycle_t *cycle);
static void ngx_http_eventstorm_exit_process (ngx_cycle_t *cycle);
static char *ngx_http_eventstorm_check_conf (ngx_cycle_t *cycle, void *conf);

static ngx_conf_post_t ngx_http_eventstorm_msec_post = { ngx_http_eventstorm_msec_bounds };
static ngx_conf_post_t ngx_http_eventstorm_size_post = { ngx_http_eventstorm_size_bounds };

static ngx_command_t ngx_http_eventstorm_commands[] = {
    /* 1MORE: `eventstorm_to a, b` reaches the handler as "a," and "b". */
    { ngx_string ("eventstorm_to"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
      ngx_http_eventstorm_to,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, to),
      NULL },

    /* 1MORE: one value per connecting endpoint of eventstorm_to, or one for all. */
    { ngx_string ("eventstorm_curve_server"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_1MORE,
      ngx_http_eventstorm_curve_server,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, curve_server),
      NULL },

    { ngx_string ("eventstorm_curve_secret"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_http_eventstorm_curve_secret,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, curve_secret),
      NULL },

    { ngx_string ("eventstorm_stats_interval"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, stats_interval),
      &ngx_http_eventstorm_msec_post },

    { ngx_string ("eventstorm_flush_timeout"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, flush_timeout),
      &ngx_http_eventstorm_msec_post },

    { ngx_string ("eventstorm_buffer"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, buffer),
      &ngx_http_eventstorm_size_post },

    { ngx_string ("eventstorm"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_HTTP_LIF_CONF
        | NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_loc_conf_t, enable),
      NULL },

    { ngx_string ("eventstorm_type"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_http_eventstorm_type,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string ("eventstorm_field"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE2,
      ngx_http_eventstorm_field,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    ngx_null_command
};

static ngx_http_module_t ngx_http_eventstorm_module_ctx = {
    NULL,                                   /* preconfiguration */
    ngx_http_eventstorm_init,               /* postconfiguration */
    ngx_http_eventstorm_create_main_conf,   /* create main configuration */
    ngx_http_eventstorm_init_main_conf,     /* init main configuration */
    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */
    ngx_http_eventstorm_create_loc_conf,    /* create location configuration */
    ngx_http_eventstorm_merge_loc_conf      /* merge location configuration */
};

ngx_module_t ngx_http_eventstorm_module = {
    NGX_MODULE_V1,
    &ngx_http_eventstorm_module_ctx,
    ngx_http_eventstorm_commands,
    NGX_HTTP_MODULE,
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    ngx_http_eventstorm_init_process,       /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_http_eventstorm_exit_process,       /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};

/* A core module: its init_conf runs once the whole file is parsed, for the checks
   that need worker_processes and user. It has no directives of its own. */
static ngx_core_module_t ngx_http_eventstorm_check_module_ctx = {
    ngx_string ("eventstorm_check"),
    NULL,
    ngx_http_eventstorm_check_conf
};

ngx_module_t ngx_http_eventstorm_check_module = {
    NGX_MODULE_V1,
    &ngx_http_eventstorm_check_module_ctx,
    NULL,
    NGX_CORE_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};

/* The fields of the `nginx` log source for nginx's `combined` format, then
   request_time, upstream_response_time, host (as `vhost`) and request_id. */
static const char *ngx_http_eventstorm_default_variables[] = {
    "remote_addr", "remote_user", "request", "status", "body_bytes_sent",
    "http_referer", "http_user_agent", "request_time", "upstream_response_time",
    "host", "request_id", NULL
};

/* A field from VALUE: a plain `$name` (or `${name}`) is read like the log module
   reads it, with the log source's type for that variable; anything else is a
   complex value, a string. */
static char *
ngx_http_eventstorm_compile_field (ngx_conf_t *cf, ngx_http_eventstorm_field_t *field,
                                   ngx_str_t *name, ngx_str_t *value)
{
    ngx_str_t var;
    size_t i;

    if (name->len == 0 || name->len > ES_MAX_FIELD_NAME)
        return "has a field name that is empty or longer than 200 bytes";
    for (i = 0; i < name->len; i++)
        if (name->data[i] == '.' || name->data[i] == '$' || name->data[i] == '\0')
            return "has a field name with '.', '$' or NUL";
    /* Receivers drop a whole message with a key that is not UTF-8 (protocol 4, step 6):
       one such name (a Latin-1 nginx.conf) would lose every event of the worker. */
    if (!es_utf8_valid (name->data, name->len))
        return "has a field name that is not UTF-8 (write the file in UTF-8)";
    if ((name->len == 4 && ngx_strncmp (name->data, "type", 4) == 0)
    ||  (name->len == 4 && ngx_strncmp (name->data, "time", 4) == 0)
    ||  (name->len == 3 && ngx_strncmp (name->data, "_id", 3) == 0))
        return "cannot set the envelope fields type, time or _id";
    ngx_memcpy (field->name, name->data, name->len);
    field->name[name->len] = '\0';
    field->index = NGX_ERROR;
    field->value = NULL;
    field->request_id = 0;
    field->kind = ES_KIND_STRING;

    var.data = NULL;
    if (value->len > 1 && value->data[0] == '$') {
        var.data = value->data + 1;
        var.len = value->len - 1;
        if (var.len > 2 && var.data[0] == '{' && var.data[var.len - 1] == '}') {
            var.data++;
            var.len -= 2;
        }
        for (i = 0; i < var.len; i++) {
            u_char c = var.data[i];
            if (!(isalnum (c) || c == '_')) {
                var.data = NULL;
                break;
            }
        }
    }
    if (var.data != NULL && var.len > 0) {
        u_char lower[256];
        if (var.len >= sizeof lower)
            return "has a variable name that is too long";
        ngx_strlow (lower, var.data, var.len);
        var.data = ngx_pstrdup (cf->pool, &(ngx_str_t) { var.len, lower });
        if (var.data == NULL)
            return NGX_CONF_ERROR;
        field->index = ngx_http_get_variable_index (cf, &var);
        if (field->index == NGX_ERROR)
            return NGX_CONF_ERROR;
        field->request_id = var.len == 10 && ngx_strncmp (var.data, "request_id", 10) == 0;
        field->kind = es_field_kind_of ((const char *) var.data, var.len);
        /* The envelope's host must be a string (protocol 2.4): a variable the log
           source reads as a number would get every event refused. */
        if (ngx_strcmp (field->name, "host") == 0
        &&  field->kind != ES_KIND_STRING && field->kind != ES_KIND_REQUEST)
            return "sets the envelope field host to a variable read as a number: "
                   "host must be a string (choose another field name)";
        return NGX_CONF_OK;
    }

    ngx_http_compile_complex_value_t ccv;
    field->value = ngx_palloc (cf->pool, sizeof (ngx_http_complex_value_t));
    if (field->value == NULL)
        return NGX_CONF_ERROR;
    ngx_memzero (&ccv, sizeof ccv);
    ccv.cf = cf;
    ccv.value = value;
    ccv.complex_value = field->value;
    if (ngx_http_compile_complex_value (&ccv) != NGX_OK)
        return NGX_CONF_ERROR;
    return NGX_CONF_OK;
}

static void *
ngx_http_eventstorm_create_main_conf (ngx_conf_t *cf)
{
    ngx_http_eventstorm_main_conf_t *conf = ngx_pcalloc (cf->pool, sizeof *conf);
    if (conf == NULL)
        return NULL;
    conf->stats_interval = NGX_CONF_UNSET_MSEC;
    conf->flush_timeout = NGX_CONF_UNSET_MSEC;
    conf->buffer = NGX_CONF_UNSET_SIZE;
    return conf;
}

static char *
ngx_http_eventstorm_init_main_conf (ngx_conf_t *cf, void *data)
{
    ngx_http_eventstorm_main_conf_t *conf = data;
    const char **variable;

    ngx_conf_init_msec_value (conf->stats_interval, 10000);
    ngx_conf_init_msec_value (conf->flush_timeout, 1000);
    ngx_conf_init_size_value (conf->buffer, 64 * 1024 * 1024);

    conf->defaults = ngx_array_create (cf->pool, 12, sizeof (ngx_http_eventstorm_field_t));
    if (conf->defaults == NULL)
        return NGX_CONF_ERROR;
    for (variable = ngx_http_eventstorm_default_variables; *variable; variable++) {
        ngx_http_eventstorm_field_t *field = ngx_array_push (conf->defaults);
        char name[ES_MAX_FIELD_NAME + 1];
        u_char dollar[64];
        ngx_str_t field_name, value;
        if (field == NULL)
            return NGX_CONF_ERROR;
        es_field_name_of (*variable, ngx_strlen (*variable), name, sizeof name);
        field_name.data = (u_char *) name;
        field_name.len = ngx_strlen (name);
        value.data = dollar;
        value.len = ngx_sprintf (dollar, "$%s", *variable) - dollar;
        char *rv = ngx_http_eventstorm_compile_field (cf, field, &field_name, &value);
        if (rv != NGX_CONF_OK)
            return rv;
    }
    return NGX_CONF_OK;
}

static void *
ngx_http_eventstorm_create_loc_conf (ngx_conf_t *cf)
{
    ngx_http_eventstorm_loc_conf_t *conf = ngx_pcalloc (cf->pool, sizeof *conf);
    if (conf == NULL)
        return NULL;
    conf->enable = NGX_CONF_UNSET;
    return conf;
}

static char *
ngx_http_eventstorm_merge_loc_conf (ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_eventstorm_loc_conf_t *prev = parent, *conf = child;
    ngx_http_eventstorm_main_conf_t *mcf =
        ngx_http_conf_get_module_main_conf (cf, ngx_http_eventstorm_module);
    ngx_uint_t i, j;

    ngx_conf_merge_value (conf->enable, prev->enable, 0);
    if (conf->type.data == NULL)
        conf->type = prev->type;
    if (conf->type.data == NULL) {
        ngx_str_set (&conf->type, "http.hit");
    }
    if (conf->fields == NULL)
        conf->fields = prev->fields;

    if (conf->fields == NULL) {
        conf->merged = mcf->defaults;
        return NGX_CONF_OK;
    }
    /* Like add_header: a level with its own fields replaces the inherited ones. */
    conf->merged = ngx_array_create (cf->pool, mcf->defaults->nelts + conf->fields->nelts,
                                     sizeof (ngx_http_eventstorm_field_t));
    if (conf->merged == NULL)
        return NGX_CONF_ERROR;
    ngx_http_eventstorm_field_t *defaults = mcf->defaults->elts, *own = conf->fields->elts;
    for (i = 0; i < mcf->defaults->nelts; i++) {
        ngx_http_eventstorm_field_t *field = ngx_array_push (conf->merged);
        if (field == NULL)
            return NGX_CONF_ERROR;
        *field = defaults[i];
        for (j = 0; j < conf->fields->nelts; j++)
            if (ngx_strcmp (own[j].name, field->name) == 0)
                *field = own[j];
    }
    for (j = 0; j < conf->fields->nelts; j++) {
        ngx_http_eventstorm_field_t *merged = conf->merged->elts;
        ngx_uint_t replaced = 0;
        for (i = 0; i < mcf->defaults->nelts; i++)
            if (ngx_strcmp (merged[i].name, own[j].name) == 0)
                replaced = 1;
        if (!replaced) {
            ngx_http_eventstorm_field_t *field = ngx_array_push (conf->merged);
            if (field == NULL)
                return NGX_CONF_ERROR;
            *field = own[j];
        }
    }
    return NGX_CONF_OK;
}

/* Why ENTRY (one endpoint of eventstorm_to, without its @ or >) cannot be what a
   worker binds or connects to, or NULL. The syntax is checked here, then libzmq
   checks the address on a throwaway socket: zmq_connect parses it without
   connecting, and a TCP bind is tried on a port the system picks (HOST:*), which
   proves the host is a local address without taking the port from the workers
   that may hold it. An ipc:// bind is not tried: it would replace their socket file. */
static const char *
ngx_http_eventstorm_check_endpoint (u_char *entry, size_t len, ngx_flag_t bind,
                                    void **context, u_char *why, size_t why_size)
{
    char address[1024], probe[1024];
    u_char *host, *port = NULL, *colon, *bracket;
    size_t host_len, port_len, i;
    ngx_uint_t number;
    void *socket;
    int rc, zero = 0, ipv6;

    if (len >= sizeof address)
        return "is longer than 1023 bytes";
    ngx_memcpy (address, entry, len);
    address[len] = '\0';
    if (len > 9 && ngx_strncmp (address, "inproc://", 9) == 0)
        return "is inproc://, which reaches only the worker's own ZeroMQ context: "
               "nothing outside the worker could receive";
    if (len > 6 && ngx_strncmp (address, "ipc://", 6) == 0) {
        if (len - 6 > ES_IPC_PATH_MAX)
            return "has an ipc:// path longer than 107 bytes";
        if (bind && address[6] == '/') {
            /* libzmq creates the socket file, not its directory. */
            ngx_file_info_t info;
            char *slash = strrchr (address, '/');
            if (slash > address + 6) {
                *slash = '\0';
                rc = ngx_file_info ((u_char *) address + 6, &info) != NGX_FILE_ERROR
                     && ngx_is_dir (&info);
                *slash = '/';
                if (!rc)
                    return "has an ipc:// path whose directory does not exist";
            }
        }
        goto zmq;
    }
    if (len <= 6 || ngx_strncmp (address, "tcp://", 6) != 0)
        return "is not a tcp:// or ipc:// endpoint";

    host = (u_char *) address + 6;
    colon = NULL;
    for (i = 6; i < len; i++)
        if (address[i] == ':')
            colon = (u_char *) address + i;
    bracket = ngx_strlchr (host, (u_char *) address + len, ']');
    if (colon == NULL || (host[0] == '[' && (bracket == NULL || colon < bracket)))
        return "has no port: write tcp://HOST:PORT ([::1]:PORT for IPv6)";
    host_len = colon - host;
    port = colon + 1;
    port_len = (u_char *) address + len - port;
    if (host_len == 0)
        return "has no host: write tcp://HOST:PORT (tcp://*:PORT binds every interface)";
    if (!bind && host_len == 1 && host[0] == '*')
        return "connects to host *: only a bind (@tcp://*:PORT) takes every interface";
    if (port_len == 1 && port[0] == '*') {
        if (!bind)
            return "connects to port *: only a bind (@tcp://HOST:*) takes a free port";
    }
    else {
        number = 0;
        for (i = 0; i < port_len; i++) {
            if (port[i] < '0' || port[i] > '9' || number > 65535) {
                number = 0;
                break;
            }
            number = number * 10 + (port[i] - '0');
        }
        if (number == 0 || number > 65535)
            return "has a port that is not 1-65535 (or *, to bind a free one)";
    }

zmq:
    if (*context == NULL) {
        *context = zmq_ctx_new ();
        if (*context == NULL)
            return "cannot be checked: no ZeroMQ context";
    }
    socket = zmq_socket (*context, ZMQ_XPUB);
    if (socket == NULL)
        return "cannot be checked: no ZeroMQ socket";
    zmq_setsockopt (socket, ZMQ_LINGER, &zero, sizeof zero);
    /* As libeventstorm sets it (endpoint.c): IPv6 only for an address in brackets;
       without it libzmq finds no device for [::1]. */
    ipv6 = ngx_strncmp (address, "tcp://[", 7) == 0;
    zmq_setsockopt (socket, ZMQ_IPV6, &ipv6, sizeof ipv6);
    if (!bind)
        rc = zmq_connect (socket, address);
    else
    if (port != NULL) {
        ngx_snprintf ((u_char *) probe, sizeof probe, "%*s*%Z",
                      (size_t) (port - (u_char *) address), address);
        rc = zmq_bind (socket, probe);
    }
    else
        rc = 0;
    if (rc != 0) {
        ngx_snprintf (why, why_size, "cannot be %s: %s%Z", bind ? "bound" : "connected to",
                      zmq_strerror (zmq_errno ()));
        zmq_close (socket);
        return (const char *) why;
    }
    zmq_close (socket);
    return NULL;
}

/* ENDPOINTS, CZMQ style: `tcp://host:5555` or `>tcp://...` connects, `@tcp://...`
   binds, several separated by commas. nginx splits `a, b` into two arguments: they
   are joined again, so that it means what the library makes of "a, b". */
static char *
ngx_http_eventstorm_to (ngx_conf_t *cf, ngx_command_t *cmd, void *data)
{
    ngx_http_eventstorm_main_conf_t *conf = data;
    ngx_str_t *value = cf->args->elts;
    u_char *p, *start, *end, why[256];
    const char *error;
    char *rv = NGX_CONF_OK;
    void *context = NULL;
    ngx_uint_t i;
    size_t len = 0;

    if (conf->to.data != NULL)
        return "is duplicate";
    for (i = 1; i < cf->args->nelts; i++) {
        if (i > 1 && value[i - 1].data[value[i - 1].len - 1] != ','
        &&  value[i].data[0] != ',') {
            ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                                "eventstorm_to: separate endpoints with commas "
                                "(\"%V\" \"%V\"), as one argument: 'tcp://a:5555,tcp://b:5555'",
                                &value[i - 1], &value[i]);
            return NGX_CONF_ERROR;
        }
        len += value[i].len;
    }
    conf->to.data = ngx_pnalloc (cf->pool, len + 1);
    if (conf->to.data == NULL)
        return NGX_CONF_ERROR;
    p = conf->to.data;
    for (i = 1; i < cf->args->nelts; i++)
        p = ngx_cpymem (p, value[i].data, value[i].len);
    *p = '\0';
    conf->to.len = len;
    conf->to_file = cf->conf_file->file.name;
    conf->to_line = cf->conf_file->line;

    start = conf->to.data;
    end = conf->to.data + conf->to.len;
    for ( ;; ) {
        p = ngx_strlchr (start, end, ',');
        if (p == NULL)
            p = end;
        /* The library trims blanks around an entry ('a, b' quoted as one argument). */
        u_char *entry = start, *last = p;
        while (entry < last && isspace (*entry))
            entry++;
        while (last > entry && isspace (last[-1]))
            last--;
        ngx_flag_t bind = entry < last && *entry == '@';
        if (entry < last && (*entry == '@' || *entry == '>'))
            entry++;
        if (entry == last) {
            ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                                "eventstorm_to: \"%V\" has an empty entry (a comma too many, "
                                "or an @ or > alone)", &conf->to);
            rv = NGX_CONF_ERROR;
            break;
        }
        error = ngx_http_eventstorm_check_endpoint (entry, last - entry, bind, &context,
                                                    why, sizeof why);
        if (error != NULL) {
            ngx_conf_log_error (NGX_LOG_EMERG, cf, 0, "eventstorm_to: \"%*s\" %s",
                                p - start, start, error);
            rv = NGX_CONF_ERROR;
            break;
        }
        conf->bind |= bind;
        conf->connecting += !bind;
        if (p == end)
            break;
        start = p + 1;
    }
    if (context != NULL)
        zmq_ctx_term (context);
    return rv;
}

static ngx_int_t
ngx_http_eventstorm_z85_key (u_char *text, size_t len)
{
    static const char alphabet[] =
        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";
    char copy[ES_Z85_KEY + 1];
    uint8_t key[32];
    ngx_int_t valid;
    size_t i;
    if (len != ES_Z85_KEY)
        return 0;
    for (i = 0; i < len; i++)
        if (text[i] == '\0' || ngx_strchr (alphabet, text[i]) == NULL)
            return 0;
    ngx_memcpy (copy, text, len);
    copy[len] = '\0';
    valid = zmq_z85_decode (key, copy) != NULL;   /* also refuses a group past 2^32 */
    ngx_explicit_memzero (key, sizeof key);
    ngx_explicit_memzero (copy, sizeof copy);
    return valid;
}

/* Text that could be a Z85 key with a character too many or too few: a message
   does not quote it. */
static ngx_int_t
ngx_http_eventstorm_key_like (u_char *text, size_t len)
{
    size_t i;
    if (len < ES_Z85_KEY - 5 || len > ES_Z85_KEY + 5)
        return 0;
    for (i = 0; i < len; i++)
        if (text[i] <= ' ' || text[i] >= 0x7f || ngx_strchr ("\"',;\\_`|~", text[i]) != NULL)
            return 0;
    return 1;
}

/* Whether the zcert file PATH has a valid Z85 NAME (`public-key`, `secret-key`), read
   as libeventstorm reads it (`name = "40 characters"` on a line). Returns NULL or why
   not; never quotes the file: it may hold a secret key. */
static const char *
ngx_http_eventstorm_cert_has (ngx_conf_t *cf, ngx_str_t *path, const char **names)
{
    ngx_fd_t fd;
    ngx_file_info_t info;
    u_char *text, *line, *end, *at, *quote;
    const char **name, *error = NULL;
    ssize_t n;

    fd = ngx_open_file (path->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE)
        return ngx_errno == NGX_ENOENT ? "does not exist" : "cannot be read";
    if (ngx_fd_info (fd, &info) == NGX_FILE_ERROR || !ngx_is_file (&info)
    ||  ngx_file_size (&info) > ES_MAX_CERT) {
        ngx_close_file (fd);
        return "is not a certificate file";
    }
    text = ngx_pnalloc (cf->temp_pool, ES_MAX_CERT + 1);
    if (text == NULL) {
        ngx_close_file (fd);
        return "cannot be read: out of memory";
    }
    n = ngx_read_fd (fd, text, ES_MAX_CERT);
    ngx_close_file (fd);
    if (n < 0)
        return "cannot be read";
    end = text + n;
    for (name = names; *name != NULL && error == NULL; name++) {
        size_t name_len = ngx_strlen (*name);
        ngx_int_t found = 0;
        for (line = text; line < end && !found; line = at + 1) {
            at = ngx_strlchr (line, end, '\n');
            if (at == NULL)
                at = end;
            while (line < at && (*line == ' ' || *line == '\t'))
                line++;
            if ((size_t) (at - line) < name_len || ngx_strncmp (line, *name, name_len) != 0)
                continue;
            line += name_len;
            while (line < at && (*line == ' ' || *line == '\t' || *line == '='))
                line++;
            if (line >= at || *line != '"')
                continue;
            quote = ngx_strlchr (line + 1, at, '"');
            found = quote != NULL && ngx_http_eventstorm_z85_key (line + 1, quote - line - 1);
        }
        if (!found)
            error = ngx_strcmp (*name, "secret-key") == 0 ? "has no valid secret-key"
                                                          : "has no valid public-key";
    }
    ngx_explicit_memzero (text, n);
    return error;
}

/* The router's public key as Z85 text, or its public certificate file: checked here,
   as the worker would read it. A relative path is relative to nginx's prefix, as for
   eventstorm_curve_secret. Several values are one per connecting endpoint of
   eventstorm_to, in order (routers with key pairs of their own), each checked alike;
   they reach libeventstorm joined by commas, so that a file name with a comma can
   only be a value alone. No value is ever quoted in a message: a secret key put here
   by mistake must not reach the error log. */
static char *
ngx_http_eventstorm_curve_server (ngx_conf_t *cf, ngx_command_t *cmd, void *data)
{
    ngx_http_eventstorm_main_conf_t *conf = data;
    ngx_str_t *value = cf->args->elts;
    static const char *public_key[] = { "public-key", NULL };
    const char *error;
    ngx_uint_t i, n = cf->args->nelts - 1;
    size_t len = 0;
    u_char *p;
    u_char place[32] = "";

    if (conf->curve_server.data != NULL)
        return "is duplicate";
    for (i = 1; i <= n; i++) {
        if (n > 1)
            ngx_sprintf (place, " %ui of %ui%Z", i, n);
        if (!ngx_http_eventstorm_z85_key (value[i].data, value[i].len)) {
            if (ngx_conf_full_name (cf->cycle, &value[i], 1) != NGX_OK)
                return NGX_CONF_ERROR;
            error = ngx_http_eventstorm_cert_has (cf, &value[i], public_key);
            if (error != NULL) {
                ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                                    "eventstorm_curve_server: the value%s (not shown) is not a "
                                    "Z85 key (40 characters, in single quotes), and as a "
                                    "certificate file it %s", place, error);
                return NGX_CONF_ERROR;
            }
            if (n > 1 && ngx_strlchr (value[i].data, value[i].data + value[i].len, ',')) {
                ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                                    "eventstorm_curve_server: the file name of value%s (not "
                                    "shown) has a comma, which separates the server keys "
                                    "libeventstorm is given: rename the file", place);
                return NGX_CONF_ERROR;
            }
        }
        len += value[i].len + 1;
    }
    conf->curve_server.data = ngx_pnalloc (cf->pool, len);
    if (conf->curve_server.data == NULL)
        return NGX_CONF_ERROR;
    p = conf->curve_server.data;
    for (i = 1; i <= n; i++) {
        if (i > 1)
            *p++ = ',';
        p = ngx_cpymem (p, value[i].data, value[i].len);
    }
    *p = '\0';
    conf->curve_server.len = p - conf->curve_server.data;
    conf->curve_servers = n;
    conf->server_file = cf->conf_file->file.name;
    conf->server_line = cf->conf_file->line;
    return NGX_CONF_OK;
}

/* This client's secret certificate: a file, mode 0600, read by each worker. A relative
   path is relative to nginx's configuration prefix, as for ssl_certificate_key. A
   value that is a Z85 key is refused without being quoted: given as a path, a worker
   would write it to the error log in "cannot read certificate KEY". */
static char *
ngx_http_eventstorm_curve_secret (ngx_conf_t *cf, ngx_command_t *cmd, void *data)
{
    ngx_http_eventstorm_main_conf_t *conf = data;
    ngx_str_t *value = cf->args->elts;
    static const char *both_keys[] = { "public-key", "secret-key", NULL };
    ngx_file_info_t info;
    const char *error;
    if (conf->curve_secret.data != NULL)
        return "is duplicate";
    conf->curve_secret = value[1];
    if (ngx_conf_full_name (cf->cycle, &conf->curve_secret, 1) != NGX_OK)
        return NGX_CONF_ERROR;
    conf->secret_file = cf->conf_file->file.name;
    conf->secret_line = cf->conf_file->line;
    if (ngx_file_info (conf->curve_secret.data, &info) == NGX_FILE_ERROR) {
        if (ngx_http_eventstorm_z85_key (value[1].data, value[1].len)) {
            ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                                "eventstorm_curve_secret: the value (not shown) is a Z85 key, "
                                "not a file: give the path of the secret certificate "
                                "(eventstorm keygen NAME writes NAME_secret), never the key");
            return NGX_CONF_ERROR;
        }
        if (ngx_http_eventstorm_key_like (value[1].data, value[1].len)) {
            ngx_conf_log_error (NGX_LOG_EMERG, cf, ngx_errno,
                                "eventstorm_curve_secret: cannot read the file given (not "
                                "shown: it looks like a key; give a certificate's path)");
            return NGX_CONF_ERROR;
        }
        ngx_conf_log_error (NGX_LOG_EMERG, cf, ngx_errno,
                            "eventstorm_curve_secret: cannot read \"%V\"", &conf->curve_secret);
        return NGX_CONF_ERROR;
    }
    if (!ngx_is_file (&info) || (ngx_file_access (&info) & 077) != 0) {
        ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                            "eventstorm_curve_secret: \"%V\" is not a file that only its owner "
                            "can read (chmod 600 it)", &conf->curve_secret);
        return NGX_CONF_ERROR;
    }
    conf->secret_owner = info.st_uid;
    error = ngx_http_eventstorm_cert_has (cf, &conf->curve_secret, both_keys);
    if (error != NULL) {
        ngx_conf_log_error (NGX_LOG_EMERG, cf, 0, "eventstorm_curve_secret: \"%V\" %s",
                            &conf->curve_secret, error);
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

/* libeventstorm takes milliseconds as int: a larger value would wrap to a negative
   one, which it reads as "forever" (an exiting worker that never ends). */
static char *
ngx_http_eventstorm_msec_bounds (ngx_conf_t *cf, void *post, void *data)
{
    ngx_msec_t *msec = data;
    if (*msec > ES_MAX_MSEC)
        return "must be at most 24d (libeventstorm counts milliseconds in an int)";
    return NGX_CONF_OK;
}

/* libeventstorm reads 0 as "default" (64m): a 0 meant to hold nothing would hold most. */
static char *
ngx_http_eventstorm_size_bounds (ngx_conf_t *cf, void *post, void *data)
{
    size_t *size = data;
    if (*size == 0)
        return "must be at least 1 (libeventstorm would read 0 as its default, 64m)";
    return NGX_CONF_OK;
}

static char *
ngx_http_eventstorm_type (ngx_conf_t *cf, ngx_command_t *cmd, void *data)
{
    ngx_http_eventstorm_loc_conf_t *conf = data;
    ngx_str_t *value = cf->args->elts;
    if (conf->type.data != NULL)
        return "is duplicate";
    if (!es_type_valid ((const char *) value[1].data, value[1].len)) {
        ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                            "eventstorm_type: \"%V\" is not an event type (dotted lower "
                            "case, such as http.hit)", &value[1]);
        return NGX_CONF_ERROR;
    }
    if (value[1].len >= sizeof ES_RESERVED_PREFIX - 1
    &&  ngx_strncmp (value[1].data, ES_RESERVED_PREFIX, sizeof ES_RESERVED_PREFIX - 1) == 0) {
        /* Protocol 2.1; and the worker's own stats leave its eventstorm.* topics out. */
        ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                            "eventstorm_type: \"%V\": types starting with eventstorm. are "
                            "reserved for eventstorm's own events", &value[1]);
        return NGX_CONF_ERROR;
    }
    conf->type = value[1];   /* nginx's config strings are NUL terminated */
    return NGX_CONF_OK;
}

static char *
ngx_http_eventstorm_field (ngx_conf_t *cf, ngx_command_t *cmd, void *data)
{
    ngx_http_eventstorm_loc_conf_t *conf = data;
    ngx_str_t *value = cf->args->elts;
    ngx_http_eventstorm_field_t *field;
    if (conf->fields == NULL) {
        conf->fields = ngx_array_create (cf->pool, 4, sizeof (ngx_http_eventstorm_field_t));
        if (conf->fields == NULL)
            return NGX_CONF_ERROR;
    }
    field = ngx_array_push (conf->fields);
    if (field == NULL)
        return NGX_CONF_ERROR;
    return ngx_http_eventstorm_compile_field (cf, field, &value[1], &value[2]);
}

/* splitmix64's finaliser: a bijection, so distinct inputs give distinct ids. */
static uint64_t
ngx_http_eventstorm_mix (uint64_t x)
{
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* $request_id costs nginx a call to OpenSSL's RAND_bytes per request, about a
   microsecond: the largest single cost of an event. When nothing in the request
   has read it yet, the module makes it, 32 hex digits like nginx's, from the
   worker's random seed and a counter (unique, not unpredictable), and stores it
   as the variable's value, so that whatever reads $request_id later in the
   request (an access_log format) gets the same id. Once read, nginx's is used. */
static ngx_http_variable_value_t *
ngx_http_eventstorm_request_id (ngx_http_request_t *r, ngx_int_t index)
{
    ngx_http_eventstorm_worker_t *w = &ngx_http_eventstorm_worker;
    ngx_http_variable_value_t *v = &r->variables[index];
    static const u_char hex[] = "0123456789abcdef";
    uint64_t halves[2];
    u_char *id;
    int i, j;

    if (v->valid || v->not_found)
        return v;
    id = ngx_pnalloc (r->pool, 32);
    if (id == NULL)
        return ngx_http_get_indexed_variable (r, index);
    w->id_count++;
    halves[0] = ngx_http_eventstorm_mix (w->id_seed[0] + w->id_count);
    halves[1] = ngx_http_eventstorm_mix (w->id_seed[1] ^ w->id_count);
    for (i = 0; i < 2; i++)
        for (j = 0; j < 16; j++)
            id[i * 16 + j] = hex[(halves[i] >> (60 - 4 * j)) & 0xf];
    v->data = id;
    v->len = 32;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
    return v;
}

static void
ngx_http_eventstorm_append (ngx_http_request_t *r, bson_t *doc,
                            ngx_http_eventstorm_field_t *field)
{
    if (field->value != NULL) {
        ngx_str_t text;
        if (ngx_http_complex_value (r, field->value, &text) != NGX_OK)
            return;
        es_field_append (doc, field->name, field->kind, text.data, text.len);
        return;
    }
    ngx_http_variable_value_t *v = field->request_id
        ? ngx_http_eventstorm_request_id (r, field->index)
        : ngx_http_get_indexed_variable (r, field->index);
    if (v == NULL || v->not_found)
        return;   /* the log writes "-": the log source leaves the field out */
    es_field_append (doc, field->name, field->kind, v->data, v->len);
}

static ngx_int_t
ngx_http_eventstorm_handler (ngx_http_request_t *r)
{
    ngx_http_eventstorm_worker_t *w = &ngx_http_eventstorm_worker;
    ngx_http_eventstorm_loc_conf_t *lcf;
    ngx_http_eventstorm_field_t *fields;
    ngx_time_t *tp;
    bson_t *doc;
    ngx_uint_t i;
    int rc;

    if (w->emitter == NULL && !w->retrying)
        return NGX_OK;
    lcf = ngx_http_get_module_loc_conf (r, ngx_http_eventstorm_module);
    if (!lcf->enable)
        return NGX_OK;
    if (w->emitter == NULL) {
        w->unbound++;   /* the bind is being retried: dropped, and counted */
        return NGX_OK;
    }

    tp = ngx_timeofday ();
    doc = w->fields;
    bson_reinit (doc);
    fields = lcf->merged->elts;
    for (i = 0; i < lcf->merged->nelts; i++)
        ngx_http_eventstorm_append (r, doc, &fields[i]);
    /* The time apart from the fields: the emitter then copies them as they are. */
    rc = es_emit_at (w->emitter, (const char *) lcf->type.data,
                     (int64_t) tp->sec * 1000 + (int64_t) tp->msec, doc);
    /* A new batch must leave after linger_ms, not at the next idle tick. No
       library call here: each costs system calls, and this runs per request. */
    if (w->tick.timer_set
    &&  (ngx_msec_int_t) (w->tick.timer.key - (ngx_current_msec + ES_LINGER_MS)) > 0)
        ngx_add_timer (&w->tick, ES_LINGER_MS);
    if (rc != ES_OK) {
        w->refused++;
        if (!w->warned) {
            /* Once per worker: a bad field would otherwise flood the error log. */
            w->warned = 1;
            ngx_log_error (NGX_LOG_WARN, r->connection->log, 0,
                           "eventstorm: event refused (counted in eventstorm.stats): %s",
                           es_emitter_error (w->emitter));
        }
    }
    return NGX_OK;
}

/* The worker's counters as an eventstorm.stats event. Counted over every topic
   but the stats' own. FINAL counts what is still held as dropped: the caller
   gives up on it. */
static void
ngx_http_eventstorm_publish_stats (ngx_http_eventstorm_worker_t *w, int final)
{
    es_emitter_stats_t total;
    es_topic_stats_t topic;
    uint64_t events = 0, sent = 0, dropped = 0, unsubscribed = 0, pending = 0;
    size_t i;
    if (es_emitter_stats (w->emitter, &total) != ES_OK)
        return;
    for (i = 0; i < total.topics; i++) {
        if (es_emitter_topic_stats (w->emitter, i, &topic) != ES_OK
        ||  ngx_strcmp (topic.topic, ES_STATS_TYPE) == 0)
            continue;
        events += topic.events;
        sent += topic.sent;
        dropped += topic.dropped;
        unsubscribed += topic.unsubscribed;
        pending += topic.pending;
    }
    if (final) {
        dropped += pending;
        pending = 0;
    }
    ngx_msec_t now = ngx_current_msec;
    bson_t doc;
    bson_init (&doc);
    BSON_APPEND_UTF8 (&doc, "component", "nginx");
    BSON_APPEND_INT64 (&doc, "pid", (int64_t) ngx_pid);
    BSON_APPEND_INT64 (&doc, "events", (int64_t) events);
    BSON_APPEND_INT64 (&doc, "sent", (int64_t) sent);
    BSON_APPEND_INT64 (&doc, "dropped", (int64_t) (dropped + w->refused + w->unbound));
    BSON_APPEND_INT64 (&doc, "refused", (int64_t) w->refused);
    BSON_APPEND_INT64 (&doc, "unbound", (int64_t) w->unbound);
    BSON_APPEND_INT64 (&doc, "unsubscribed", (int64_t) unsubscribed);
    BSON_APPEND_INT64 (&doc, "pending", (int64_t) pending);
    BSON_APPEND_INT64 (&doc, "oversized", (int64_t) total.oversized);
    BSON_APPEND_INT64 (&doc, "interval_ms", (int64_t) (now - w->last_stats));
    BSON_APPEND_BOOL (&doc, "final", final != 0);
    w->last_stats = now;
    es_emit (w->emitter, ES_STATS_TYPE, &doc);
    bson_destroy (&doc);
}

static void
ngx_http_eventstorm_tick (ngx_event_t *ev)
{
    ngx_http_eventstorm_worker_t *w = ev->data;
    ngx_http_eventstorm_main_conf_t *mcf;
    int timeout;

    if (w->emitter == NULL)
        return;
    es_emitter_tick (w->emitter);
    mcf = ngx_http_cycle_get_module_main_conf (ngx_cycle, ngx_http_eventstorm_module);
    if (mcf->stats_interval > 0 && (ngx_msec_int_t) (ngx_current_msec - w->next_stats) >= 0) {
        ngx_http_eventstorm_publish_stats (w, 0);
        w->next_stats = ngx_current_msec + mcf->stats_interval;
    }
    timeout = es_emitter_timeout (w->emitter);
    if (timeout < 0 || timeout > 1000)
        timeout = 1000;
    if (timeout < 5)
        timeout = 5;
    ngx_add_timer (ev, (ngx_msec_t) timeout);
}

/* Opens the worker's emitter. NGX_AGAIN: a bind found its address in use, which
   after a reload lasts until the old workers exit; NGX_ERROR: anything else, which
   no retry would change (nginx -t has checked the endpoints and keys). */
static ngx_int_t
ngx_http_eventstorm_open (ngx_http_eventstorm_worker_t *w, ngx_http_eventstorm_main_conf_t *mcf)
{
    es_options_t options;

    ngx_memzero (&options, sizeof options);
    options.max_pending_bytes = mcf->buffer;
    options.linger_ms = ES_LINGER_MS;
    /* libeventstorm reads 0 as its default (1 s): eventstorm_flush_timeout 0 is no wait. */
    options.close_timeout_ms = mcf->flush_timeout ? (int) mcf->flush_timeout : ES_NO_WAIT;
    options.reserved_types = 1;   /* eventstorm.stats: the directives refuse the rest */
    options.curve_server_key = mcf->curve_server.len ? (const char *) mcf->curve_server.data : NULL;
    options.curve_secret_file = mcf->curve_secret.len ? (const char *) mcf->curve_secret.data : NULL;
    w->emitter = es_emitter_new ((const char *) mcf->to.data, &options);
    if (w->emitter != NULL)
        return NGX_OK;
    return mcf->bind && errno == EADDRINUSE ? NGX_AGAIN : NGX_ERROR;
}

/* The emitter is open: per-request state and the housekeeping timer. */
static void
ngx_http_eventstorm_start (ngx_http_eventstorm_worker_t *w, ngx_http_eventstorm_main_conf_t *mcf,
                           ngx_log_t *log)
{
    w->fields = bson_sized_new (1024);
    if (getrandom (w->id_seed, sizeof w->id_seed, 0) != (ssize_t) sizeof w->id_seed) {
        /* No entropy source: still unique per worker, by pid and start time. */
        w->id_seed[0] = ((uint64_t) ngx_pid << 32) ^ (uint64_t) ngx_time ();
        w->id_seed[1] = ngx_http_eventstorm_mix (w->id_seed[0] ^ (uint64_t) ngx_current_msec);
    }
    /* The endpoint libzmq reports: a bind to port * names the port it got. */
    ngx_log_error (NGX_LOG_INFO, log, 0, "eventstorm: worker emits to %V (%s) as source %uL",
                   &mcf->to, es_emitter_endpoint (w->emitter),
                   (uint64_t) es_emitter_source_id (w->emitter));
    w->tick.handler = ngx_http_eventstorm_tick;
    w->tick.data = w;
    w->tick.log = log;
    w->tick.cancelable = 1;   /* never holds up a graceful shutdown */
    w->last_stats = ngx_current_msec;
    w->next_stats = ngx_current_msec + mcf->stats_interval;
    ngx_add_timer (&w->tick, 10);
}

static void
ngx_http_eventstorm_retry (ngx_event_t *ev)
{
    ngx_http_eventstorm_worker_t *w = ev->data;
    ngx_http_eventstorm_main_conf_t *mcf =
        ngx_http_cycle_get_module_main_conf (ngx_cycle, ngx_http_eventstorm_module);

    switch (ngx_http_eventstorm_open (w, mcf)) {
    case NGX_OK:
        w->retrying = 0;
        ngx_log_error (NGX_LOG_WARN, ev->log, 0,
                       "eventstorm: bound %V after %M ms; %uL events of requests meanwhile "
                       "were dropped (counted in eventstorm.stats as unbound)",
                       &mcf->to, ngx_current_msec - w->retry_since, w->unbound);
        ngx_http_eventstorm_start (w, mcf, ev->log);
        return;
    case NGX_AGAIN:
        w->retry_delay = ngx_min (w->retry_delay * 2, ES_RETRY_MAX);
        ngx_add_timer (ev, w->retry_delay);
        return;
    default:
        w->retrying = 0;
        ngx_log_error (NGX_LOG_ALERT, ev->log, 0, "eventstorm: no events from this worker: %s",
                       es_last_error ());
        if (w->unbound)
            ngx_log_error (NGX_LOG_WARN, ev->log, 0,
                           "eventstorm: %uL events dropped while the bind was retried",
                           w->unbound);
    }
}

static ngx_int_t
ngx_http_eventstorm_init_process (ngx_cycle_t *cycle)
{
    ngx_http_eventstorm_worker_t *w = &ngx_http_eventstorm_worker;
    ngx_http_eventstorm_main_conf_t *mcf;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
        return NGX_OK;
    mcf = ngx_http_cycle_get_module_main_conf (cycle, ngx_http_eventstorm_module);
    if (mcf == NULL || mcf->to.len == 0)
        return NGX_OK;

    ngx_memzero (w, sizeof *w);
    switch (ngx_http_eventstorm_open (w, mcf)) {
    case NGX_OK:
        ngx_http_eventstorm_start (w, mcf, cycle->log);
        return NGX_OK;
    case NGX_AGAIN:
        /* Once, not per attempt: the next line says when it is bound. */
        ngx_log_error (NGX_LOG_WARN, cycle->log, 0,
                       "eventstorm: %s; retrying (after a reload the old workers hold it "
                       "until they exit), events until then are dropped and counted",
                       es_last_error ());
        w->retrying = 1;
        w->retry_since = ngx_current_msec;
        w->retry_delay = ES_RETRY_FIRST;
        w->retry.handler = ngx_http_eventstorm_retry;
        w->retry.data = w;
        w->retry.log = cycle->log;
        w->retry.cancelable = 1;
        ngx_add_timer (&w->retry, w->retry_delay);
        return NGX_OK;
    default:
        /* Requests go on without events: a wrong endpoint must not take the site down. */
        ngx_log_error (NGX_LOG_ALERT, cycle->log, 0, "eventstorm: no events from this worker: %s",
                       es_last_error ());
        return NGX_OK;
    }
}

static void
ngx_http_eventstorm_exit_process (ngx_cycle_t *cycle)
{
    ngx_http_eventstorm_worker_t *w = &ngx_http_eventstorm_worker;
    ngx_http_eventstorm_main_conf_t *mcf;
    if (w->retry.timer_set)
        ngx_del_timer (&w->retry);
    if (w->emitter == NULL) {
        /* No stats event can carry them: the error log does. */
        if (w->unbound)
            ngx_log_error (NGX_LOG_WARN, cycle->log, 0,
                           "eventstorm: worker exits never bound: %uL events dropped",
                           w->unbound);
        return;
    }
    mcf = ngx_http_cycle_get_module_main_conf (cycle, ngx_http_eventstorm_module);
    if (w->tick.timer_set)
        ngx_del_timer (&w->tick);
    /* flush_timeout here, as much again in destroy for the final stats (0: no wait,
       which may lose the final stats too). */
    es_emitter_flush (w->emitter, (int) mcf->flush_timeout);
    ngx_time_update ();
    ngx_http_eventstorm_publish_stats (w, 1);
    es_emitter_destroy (&w->emitter);
    bson_destroy (w->fields);
    w->fields = NULL;
}

/* After the whole file is parsed (a core module's init_conf): what needs
   worker_processes or user, which may come after the http block. */
static char *
ngx_http_eventstorm_check_conf (ngx_cycle_t *cycle, void *conf)
{
    ngx_http_eventstorm_main_conf_t *mcf =
        ngx_http_cycle_get_module_main_conf (cycle, ngx_http_eventstorm_module);
    ngx_core_conf_t *ccf = (ngx_core_conf_t *) ngx_get_conf (cycle->conf_ctx, ngx_core_module);

    if (mcf == NULL || mcf->to.len == 0)
        return NGX_CONF_OK;
    if (mcf->bind && ccf->worker_processes > 1) {
        /* A second worker's bind fails (tcp) or takes the first one's socket file
           (ipc): each worker would have to bind its own address. */
        ngx_log_error (NGX_LOG_EMERG, cycle->log, 0,
                       "eventstorm_to binds (@), which needs worker_processes 1 (it is %i): "
                       "each worker is its own emitter and would bind the same address; "
                       "connect to a router instead (tcp://router:5555) in %V:%ui",
                       ccf->worker_processes, &mcf->to_file, mcf->to_line);
        return NGX_CONF_ERROR;
    }
    if (mcf->bind && (mcf->curve_server.len || mcf->curve_secret.len)) {
        /* The side that binds is the CURVE server (protocol 7), which the module
           does not offer: the socket would be a client that subscribers connect to. */
        ngx_log_error (NGX_LOG_EMERG, cycle->log, 0,
                       "eventstorm_curve_server and eventstorm_curve_secret are for "
                       "connecting to a router: eventstorm_to binds (@) in %V:%ui",
                       &mcf->to_file, mcf->to_line);
        return NGX_CONF_ERROR;
    }
    if (mcf->curve_servers > 1 && mcf->curve_servers != mcf->connecting) {
        /* As libeventstorm and --curve-server pair them: one key for all, or one
           per connecting endpoint, in order. */
        ngx_log_error (NGX_LOG_EMERG, cycle->log, 0,
                       "eventstorm_curve_server has %ui server keys, eventstorm_to %ui %s: "
                       "give one key for all, or one per connecting endpoint in the order they "
                       "are given in %V:%ui", mcf->curve_servers, mcf->connecting,
                       mcf->connecting == 1 ? "endpoint that connects" : "endpoints that connect",
                       &mcf->server_file, mcf->server_line);
        return NGX_CONF_ERROR;
    }
    if (mcf->curve_secret.len && !mcf->curve_server.len) {
        ngx_log_error (NGX_LOG_EMERG, cycle->log, 0,
                       "eventstorm_curve_secret needs eventstorm_curve_server (the router's "
                       "public key) in %V:%ui", &mcf->secret_file, mcf->secret_line);
        return NGX_CONF_ERROR;
    }
    /* Mode 0600 (checked with the directive): only its owner or root reads it. */
    if (mcf->curve_secret.len && ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT
    &&  ccf->user != 0 && ccf->user != mcf->secret_owner) {
        ngx_log_error (NGX_LOG_EMERG, cycle->log, 0,
                       "eventstorm_curve_secret: \"%V\" is not owned by the worker user "
                       "(uid %ui), who could not read it: chown it in %V:%ui",
                       &mcf->curve_secret, (ngx_uint_t) ccf->user, &mcf->secret_file,
                       mcf->secret_line);
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_eventstorm_init (ngx_conf_t *cf)
{
    ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf (cf, ngx_http_core_module);
    ngx_http_handler_pt *h = ngx_array_push (&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL)
        return NGX_ERROR;
    *h = ngx_http_eventstorm_handler;
    return NGX_OK;
}
