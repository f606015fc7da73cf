/*
 * ngx_http_eventstorm_fields.c - nginx variable values as the `nginx` log source's
 * fields. Each rule mirrors sources/nginx/log_format.ts, escape.ts and request.ts
 * (the log source reads what ngx_http_log_module wrote; here the same value is taken
 * before it was written), so a sink cannot tell which one produced an event.
 */
#include "ngx_http_eventstorm_fields.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    es_field_kind_t kind;
} es_kind_entry_t;

/* log_format.ts, KINDS */
static const es_kind_entry_t es_kinds[] = {
    { "status", ES_KIND_INTEGER },
    { "body_bytes_sent", ES_KIND_INTEGER },
    { "bytes_sent", ES_KIND_INTEGER },
    { "request_length", ES_KIND_INTEGER },
    { "connection", ES_KIND_INTEGER },
    { "connection_requests", ES_KIND_INTEGER },
    { "pid", ES_KIND_INTEGER },
    { "remote_port", ES_KIND_INTEGER },
    { "server_port", ES_KIND_INTEGER },
    { "proxy_port", ES_KIND_INTEGER },
    { "connections_active", ES_KIND_INTEGER },
    { "connections_reading", ES_KIND_INTEGER },
    { "connections_writing", ES_KIND_INTEGER },
    { "connections_waiting", ES_KIND_INTEGER },
    { "request_time", ES_KIND_DECIMAL },
    { "gzip_ratio", ES_KIND_DECIMAL },
    { "upstream_connect_time", ES_KIND_LIST_SUM },
    { "upstream_header_time", ES_KIND_LIST_SUM },
    { "upstream_response_time", ES_KIND_LIST_SUM },
    { "upstream_bytes_received", ES_KIND_LIST_SUM_INT },
    { "upstream_bytes_sent", ES_KIND_LIST_SUM_INT },
    { "upstream_response_length", ES_KIND_LIST_SUM_INT },
    { "upstream_status", ES_KIND_LIST_LAST },
    { "request", ES_KIND_REQUEST },
};

es_field_kind_t
es_field_kind_of (const char *name, size_t len)
{
    size_t i;
    for (i = 0; i < sizeof es_kinds / sizeof es_kinds[0]; i++)
        if (strlen (es_kinds[i].name) == len && memcmp (es_kinds[i].name, name, len) == 0)
            return es_kinds[i].kind;
    return ES_KIND_STRING;
}

void
es_field_name_of (const char *name, size_t len, char *out, size_t out_size)
{
    const char *prefix = "";
    if (out_size == 0)
        return;
    if (len == 4 && memcmp (name, "host", 4) == 0) {
        name = "vhost";
        len = 5;
    }
    else
    if (len == 8 && memcmp (name, "hostname", 8) == 0) {
        name = "host";
        len = 4;
    }
    else
    if ((len == 4 && memcmp (name, "type", 4) == 0)
    ||  (len == 4 && memcmp (name, "time", 4) == 0)
    ||  (len == 3 && memcmp (name, "_id", 3) == 0))
        prefix = "nginx_";
    size_t plen = strlen (prefix);
    if (plen + len + 1 > out_size) {
        out[0] = '\0';
        return;
    }
    memcpy (out, prefix, plen);
    memcpy (out + plen, name, len);
    out[plen + len] = '\0';
}

int
es_utf8_valid (const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* Most of what nginx logs is ASCII: eight bytes at a time while it is. */
        if (i + 8 <= len) {
            uint64_t word;
            memcpy (&word, s + i, sizeof word);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned lead = s[i];
        if (lead < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t point, min;
        if (lead >= 0xc2 && lead <= 0xdf) {
            need = 2; point = lead & 0x1f; min = 0x80;
        }
        else
        if (lead >= 0xe0 && lead <= 0xef) {
            need = 3; point = lead & 0x0f; min = 0x800;
        }
        else
        if (lead >= 0xf0 && lead <= 0xf4) {
            need = 4; point = lead & 0x07; min = 0x10000;
        }
        else
            return 0;
        if (i + need > len)
            return 0;
        size_t k;
        for (k = 1; k < need; k++) {
            unsigned byte = s[i + k];
            if (byte < 0x80 || byte > 0xbf)
                return 0;
            point = (point << 6) | (byte & 0x3f);
        }
        if (point < min || point > 0x10ffff || (point >= 0xd800 && point <= 0xdfff))
            return 0;
        i += need;
    }
    return 1;
}

/* What ngx_http_log_escape escapes: control bytes, `"`, `\`, DEL and every byte
   from 0x80 up. */
static int
s_log_escaped (unsigned byte)
{
    return byte < 0x20 || byte == '"' || byte == '\\' || byte >= 0x7f;
}

/* The text the log source ends up with: the bytes themselves when they are UTF-8,
   else the line as nginx logged it (escape.ts keeps escapes it cannot decode).
   Returns a pointer to DATA, or to *HEAP (to free) when escaped; *OUT_LEN set. */
static const char *
s_text (const unsigned char *data, size_t len, char **heap, size_t *out_len)
{
    *heap = NULL;
    if (es_utf8_valid (data, len)) {
        *out_len = len;
        return (const char *) data;
    }
    static const char hex[] = "0123456789ABCDEF";
    size_t i, n = 0;
    for (i = 0; i < len; i++)
        n += s_log_escaped (data[i]) ? 4 : 1;
    char *out = (char *) bson_malloc (n + 1);
    char *p = out;
    for (i = 0; i < len; i++) {
        if (s_log_escaped (data[i])) {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[data[i] >> 4];
            *p++ = hex[data[i] & 0x0f];
        }
        else
            *p++ = (char) data[i];
    }
    *p = '\0';
    *heap = out;
    *out_len = n;
    return out;
}

/* request.ts, isMethod */
static int
s_is_method (const char *s, size_t end)
{
    size_t i;
    for (i = 0; i < end; i++) {
        unsigned char c = (unsigned char) s[i];
        int letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
        if (!letter && (i == 0 || !((c >= '0' && c <= '9') || c == '_' || c == '-')))
            return 0;
    }
    return end > 0;
}

/* request.ts, isProtocol: HTTP/<digits>[.<digits>] */
static int
s_is_protocol (const char *s, size_t len)
{
    if (len < 5 || memcmp (s, "HTTP/", 5) != 0)
        return 0;
    size_t i = 5, digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    if (digits == 0)
        return 0;
    if (i == len)
        return 1;
    if (s[i] != '.')
        return 0;
    i++;
    digits = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        i++;
        digits++;
    }
    return digits > 0 && i == len;
}

static void
s_append_text (bson_t *doc, const char *key, const char *s, size_t len)
{
    bson_append_utf8 (doc, key, -1, s, (int) len);
}

/* request.ts, splitRequestLineInto */
static void
s_split_request (bson_t *doc, const char *s, size_t len)
{
    const char *space = memchr (s, ' ', len);
    if (!space || space == s)
        return;
    size_t first = (size_t) (space - s);
    if (!s_is_method (s, first))
        return;
    s_append_text (doc, "method", s, first);
    size_t end = len, last = len;
    while (last > 0 && s[last - 1] != ' ')
        last--;
    last--;   /* index of the last space (exists: first is one) */
    const char *protocol = NULL;
    size_t protocol_len = 0;
    if (last > first && s_is_protocol (s + last + 1, len - last - 1)) {
        protocol = s + last + 1;
        protocol_len = len - last - 1;
        end = last;
    }
    if (end > first + 1) {
        const char *target = s + first + 1;
        size_t target_len = end - first - 1;
        const char *question = memchr (target, '?', target_len);
        if (question) {
            s_append_text (doc, "path", target, (size_t) (question - target));
            s_append_text (doc, "query", question + 1,
                           target_len - (size_t) (question - target) - 1);
        }
        else
            s_append_text (doc, "path", target, target_len);
    }
    if (protocol)
        s_append_text (doc, "protocol", protocol, protocol_len);
}

/* JavaScript's Number (text) for the numbers nginx writes; NaN otherwise. */
/* Digits, then optionally a point and more digits, 15 digits at most: the
   value is the integer those digits make over a power of ten, one correctly
   rounded division, which is what strtod gives (both round the exact decimal
   once), at a fraction of its cost. $status, $body_bytes_sent and
   $request_time all have this shape. 0 when S has another. */
static int
s_plain_number (const char *s, size_t len, double *value)
{
    static const double powers[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15
    };
    uint64_t mantissa = 0;
    size_t digits = 0, fraction = 0, i;
    int point = 0;
    if (len == 0 || len > 16)
        return 0;
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            mantissa = mantissa * 10 + (uint64_t) (c - '0');
            digits++;
            fraction += (size_t) point;
        }
        else
        if (c == '.' && !point && i > 0 && i + 1 < len)
            point = 1;
        else
            return 0;
    }
    if (digits > 15)
        return 0;
    *value = (double) mantissa / powers[fraction];
    return 1;
}

static double
s_number (const char *s, size_t len)
{
    double plain;
    if (s_plain_number (s, len, &plain))
        return plain;
    char small[64];
    char *copy = len < sizeof small ? small : (char *) bson_malloc (len + 1);
    memcpy (copy, s, len);
    copy[len] = '\0';
    char *end = NULL;
    double value = strtod (copy, &end);
    int whole = len > 0 && end == copy + len;
    if (copy != small)
        bson_free (copy);
    return whole ? value : NAN;
}

/* plain_bson.ts, writeNumber: int32 when the number is one, else a double. */
static void
s_append_number (bson_t *doc, const char *key, size_t key_len, double value)
{
    if (value >= INT32_MIN && value <= INT32_MAX && floor (value) == value
    &&  !(value == 0 && signbit (value)))
        bson_append_int32 (doc, key, (int) key_len, (int32_t) value);
    else
        bson_append_double (doc, key, (int) key_len, value);
}

/* log_format.ts, upstreamList */
static void
s_append_list (bson_t *doc, const char *key, es_field_kind_t kind, const char *s, size_t len)
{
    if (!memchr (s, ',', len) && !memchr (s, ':', len)) {
        s_append_number (doc, key, strlen (key), s_number (s, len));
        return;
    }
    bson_t list;
    char list_key[256];
    int n = snprintf (list_key, sizeof list_key, "%s_list", key);
    if (n < 0 || (size_t) n >= sizeof list_key)
        return;
    double result = 0;
    int have = 0;
    bson_t scratch = BSON_INITIALIZER;
    bson_append_array_begin (&scratch, list_key, -1, &list);
    size_t start = 0, index = 0;
    while (start <= len) {
        /* Entries are separated by ", " (servers) or " : " (internal redirects). */
        size_t stop = start, next = len + 1;
        while (stop < len) {
            if (stop + 1 < len && s[stop] == ',' && s[stop + 1] == ' ') {
                next = stop + 2;
                break;
            }
            if (stop + 2 < len && s[stop] == ' ' && s[stop + 1] == ':' && s[stop + 2] == ' ') {
                next = stop + 3;
                break;
            }
            stop++;
        }
        char ikey[24];
        const char *ikey_p;
        size_t ikey_len = bson_uint32_to_string ((uint32_t) index, &ikey_p, ikey, sizeof ikey);
        if (stop - start == 1 && s[start] == '-')
            bson_append_null (&list, ikey_p, (int) ikey_len);
        else {
            double entry = s_number (s + start, stop - start);
            s_append_number (&list, ikey_p, ikey_len, entry);
            if (kind == ES_KIND_LIST_LAST)
                result = entry;
            else
                result += entry;
            have = 1;
        }
        index++;
        start = next;
    }
    bson_append_array_end (&scratch, &list);
    if (have) {
        if (kind == ES_KIND_LIST_SUM)   /* sums of milliseconds pick up binary noise */
            result = floor (result * 1000 + 0.5) / 1000;
        s_append_number (doc, key, strlen (key), result);
    }
    bson_concat (doc, &scratch);
    bson_destroy (&scratch);
}

int
es_field_append (bson_t *doc, const char *key, es_field_kind_t kind, const unsigned char *data,
                 size_t len)
{
    if (len == 1 && data[0] == '-')
        return 0;
    switch (kind) {
        case ES_KIND_INTEGER:
        case ES_KIND_DECIMAL:
            if (len == 0)
                return 0;
            s_append_number (doc, key, strlen (key), s_number ((const char *) data, len));
            return 1;
        case ES_KIND_LIST_SUM:
        case ES_KIND_LIST_SUM_INT:
        case ES_KIND_LIST_LAST:
            if (len == 0)
                return 0;
            s_append_list (doc, key, kind, (const char *) data, len);
            return 1;
        case ES_KIND_REQUEST:
        case ES_KIND_STRING:
        default: {
            char *heap;
            size_t text_len;
            const char *text = s_text (data, len, &heap, &text_len);
            s_append_text (doc, key, text, text_len);
            if (kind == ES_KIND_REQUEST)
                s_split_request (doc, text, text_len);
            bson_free (heap);
            return 1;
        }
    }
}
