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
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <sys/random.h>
#include <eventstorm.h>

#include "ngx_http_eventstorm_fields.h"

#define ES_STATS_TYPE "eventstorm.stats"
#define ES_MAX_FIELD_NAME 200
#define ES_LINGER_MS 100      /* how long a partial batch waits (es_options_t.linger_ms) */

typedef struct {
    char name[ES_MAX_FIELD_NAME + 1];
    es_field_kind_t kind;
    ngx_int_t index;                  /* variable index, or NGX_ERROR for value */
    ngx_http_complex_value_t *value;  /* a value that is not one plain variable */
    ngx_flag_t request_id;            /* the variable is $request_id */
} ngx_http_eventstorm_field_t;

typedef struct {
    ngx_str_t to;
    ngx_str_t curve_server;
    ngx_str_t curve_secret;
    ngx_msec_t stats_interval;
    ngx_msec_t flush_timeout;
    size_t buffer;
    ngx_array_t *defaults;            /* ngx_http_eventstorm_field_t */
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
static char *ngx_http_eventstorm_type (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_eventstorm_curve_secret (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_eventstorm_field (ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_eventstorm_init_process (ngx_cycle_t *cycle);
static void ngx_http_eventstorm_exit_process (ngx_cycle_t *cycle);

static ngx_command_t ngx_http_eventstorm_commands[] = {
    { ngx_string ("eventstorm_to"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_http_eventstorm_to,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, to),
      NULL },

    { ngx_string ("eventstorm_curve_server"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
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
      NULL },

    { ngx_string ("eventstorm_flush_timeout"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, flush_timeout),
      NULL },

    { ngx_string ("eventstorm_buffer"),
      NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof (ngx_http_eventstorm_main_conf_t, buffer),
      NULL },

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

static char *
ngx_http_eventstorm_to (ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t *value = cf->args->elts;
    u_char *p, *start, *end;
    char *rv = ngx_conf_set_str_slot (cf, cmd, conf);
    if (rv != NGX_CONF_OK)
        return rv;
    /* Checked here so that `nginx -t` rejects it; libeventstorm checks the rest
       when each worker opens its emitter. */
    start = value[1].data;
    end = value[1].data + value[1].len;
    while (start < end) {
        p = ngx_strlchr (start, end, ',');
        if (p == NULL)
            p = end;
        u_char *entry = start;
        if (entry < p && (*entry == '@' || *entry == '>'))
            entry++;
        if (ngx_strnstr (entry, "://", p - entry) == NULL || p - entry < 6) {
            ngx_conf_log_error (NGX_LOG_EMERG, cf, 0,
                                "eventstorm_to: \"%*s\" is not an endpoint such as "
                                "tcp://host:5555 or @tcp://*:5555", p - start, start);
            return NGX_CONF_ERROR;
        }
        start = p + 1;
    }
    return NGX_CONF_OK;
}

/* A relative secret file is relative to nginx's configuration prefix, as for
   ssl_certificate_key. */
static char *
ngx_http_eventstorm_curve_secret (ngx_conf_t *cf, ngx_command_t *cmd, void *data)
{
    ngx_http_eventstorm_main_conf_t *conf = data;
    ngx_str_t *value = cf->args->elts;
    if (conf->curve_secret.data != NULL)
        return "is duplicate";
    conf->curve_secret = value[1];
    if (ngx_conf_full_name (cf->cycle, &conf->curve_secret, 1) != NGX_OK)
        return NGX_CONF_ERROR;
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

    if (w->emitter == NULL)
        return NGX_OK;
    lcf = ngx_http_get_module_loc_conf (r, ngx_http_eventstorm_module);
    if (!lcf->enable)
        return NGX_OK;

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
    BSON_APPEND_INT64 (&doc, "dropped", (int64_t) (dropped + w->refused));
    BSON_APPEND_INT64 (&doc, "refused", (int64_t) w->refused);
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

static ngx_int_t
ngx_http_eventstorm_init_process (ngx_cycle_t *cycle)
{
    ngx_http_eventstorm_worker_t *w = &ngx_http_eventstorm_worker;
    ngx_http_eventstorm_main_conf_t *mcf;
    es_options_t options;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
        return NGX_OK;
    mcf = ngx_http_cycle_get_module_main_conf (cycle, ngx_http_eventstorm_module);
    if (mcf == NULL || mcf->to.len == 0)
        return NGX_OK;

    ngx_memzero (&options, sizeof options);
    options.max_pending_bytes = mcf->buffer;
    options.linger_ms = ES_LINGER_MS;
    options.close_timeout_ms = (int) mcf->flush_timeout;
    options.reserved_types = 1;   /* eventstorm.stats */
    options.curve_server_key = mcf->curve_server.len ? (const char *) mcf->curve_server.data : NULL;
    options.curve_secret_file = mcf->curve_secret.len ? (const char *) mcf->curve_secret.data : NULL;
    ngx_memzero (w, sizeof *w);
    w->emitter = es_emitter_new ((const char *) mcf->to.data, &options);
    if (w->emitter == NULL) {
        /* Requests go on without events: a wrong endpoint must not take the site down. */
        ngx_log_error (NGX_LOG_ALERT, cycle->log, 0, "eventstorm: no events from this worker: %s",
                       es_last_error ());
        return NGX_OK;
    }
    w->fields = bson_sized_new (1024);
    if (getrandom (w->id_seed, sizeof w->id_seed, 0) != (ssize_t) sizeof w->id_seed) {
        /* No entropy source: still unique per worker, by pid and start time. */
        w->id_seed[0] = ((uint64_t) ngx_pid << 32) ^ (uint64_t) ngx_time ();
        w->id_seed[1] = ngx_http_eventstorm_mix (w->id_seed[0] ^ (uint64_t) ngx_current_msec);
    }
    ngx_log_error (NGX_LOG_INFO, cycle->log, 0, "eventstorm: worker emits to %V as source %uL",
                   &mcf->to, (uint64_t) es_emitter_source_id (w->emitter));
    w->tick.handler = ngx_http_eventstorm_tick;
    w->tick.data = w;
    w->tick.log = cycle->log;
    w->tick.cancelable = 1;   /* never holds up a graceful shutdown */
    w->last_stats = ngx_current_msec;
    w->next_stats = ngx_current_msec + mcf->stats_interval;
    ngx_add_timer (&w->tick, 10);
    return NGX_OK;
}

static void
ngx_http_eventstorm_exit_process (ngx_cycle_t *cycle)
{
    ngx_http_eventstorm_worker_t *w = &ngx_http_eventstorm_worker;
    ngx_http_eventstorm_main_conf_t *mcf;
    if (w->emitter == NULL)
        return;
    mcf = ngx_http_cycle_get_module_main_conf (cycle, ngx_http_eventstorm_module);
    if (w->tick.timer_set)
        ngx_del_timer (&w->tick);
    /* Bounded: flush_timeout here, and as much again in destroy for the final stats. */
    es_emitter_flush (w->emitter, (int) mcf->flush_timeout);
    ngx_time_update ();
    ngx_http_eventstorm_publish_stats (w, 1);
    es_emitter_destroy (&w->emitter);
    bson_destroy (w->fields);
    w->fields = NULL;
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
