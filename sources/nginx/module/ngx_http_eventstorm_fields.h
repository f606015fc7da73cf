/*
 * ngx_http_eventstorm_fields.h - nginx variable values as BSON fields, with the
 * names and types the `nginx` log source (sources/nginx/log_format.ts) gives the
 * same variables read back from an access log, so that an event from the module
 * and one from the log file are equal field for field.
 */
#ifndef NGX_HTTP_EVENTSTORM_FIELDS_H_INCLUDED
#define NGX_HTTP_EVENTSTORM_FIELDS_H_INCLUDED

#include <stddef.h>
#include <bson/bson.h>

typedef enum {
    ES_KIND_STRING = 0,   /* text; not valid UTF-8: nginx's \xHH escaped form */
    ES_KIND_REQUEST,      /* $request: `request` plus method, path, query, protocol */
    ES_KIND_INTEGER,      /* whole number: int32, or double past int32 */
    ES_KIND_DECIMAL,      /* seconds or a ratio: int32 when whole, else double */
    ES_KIND_LIST_SUM,     /* upstream list of seconds: their sum (+ NAME_list) */
    ES_KIND_LIST_SUM_INT, /* upstream list of byte counts: their sum (+ NAME_list) */
    ES_KIND_LIST_LAST     /* $upstream_status: the last entry (+ NAME_list) */
} es_field_kind_t;

/* The kind the log source gives variable NAME (lower case, without `$`). */
es_field_kind_t es_field_kind_of (const char *name, size_t len);

/* The field name the log source gives variable NAME, written to OUT (NUL
   terminated, at most OUT_SIZE bytes): `host` -> `vhost`, `hostname` ->
   `host`, `type`/`time`/`_id` -> `nginx_` prefix, else NAME. */
void es_field_name_of (const char *name, size_t len, char *out, size_t out_size);

/* Appends the value DATA/LEN of kind KIND as field KEY. A value the log would
   show as "-" (not set) appends nothing. Returns 1 when a field was added. */
int es_field_append (bson_t *doc, const char *key, es_field_kind_t kind,
                     const unsigned char *data, size_t len);

/* 1 when DATA/LEN is UTF-8 the log source decodes (no overlong forms, no
   surrogates, nothing past U+10FFFF). */
int es_utf8_valid (const unsigned char *data, size_t len);

#endif
