/*
 * eventstorm/native: writes an Eventstorm::Rack request's http.hit straight onto a batch's
 * String, the bytes HitFields.pack_record and Batch#add_packed write in Ruby, at a fraction
 * of their cost. It takes the common request, whose texts are ASCII and whose numbers are
 * Integers and a Float; for anything else it returns nil and the Ruby path writes the event
 * (scrubbing text that is not UTF-8, raising for a time receivers reject). The specs compare
 * both paths byte for byte on random requests.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <ruby.h>
#include <ruby/encoding.h>

/* A record's slots: HitFields::ENV_KEYS's values, then the middleware's four. */
enum {
  REMOTE_ADDR, METHOD, SCRIPT_NAME, PATH_INFO, QUERY_STRING, SERVER_PROTOCOL, HTTP_VERSION,
  HTTP_REFERER, HTTP_USER_AGENT, HTTP_HOST, MILLIS, ELAPSED, STATUS, BYTES, RECORD_SLOTS
};

/* Batch::MAX_EVENT and Protocol::MAX_DATE_MS. */
#define MAX_EVENT (1L << 20)
#define MAX_DATE_MS 8640000000000000L

static ID id_round;

/*
 * A text field: its String (or nil) and length. Its bytes are read only while the event is
 * written, after the last call that may run the GC (which may move a short String's bytes).
 */
typedef struct {
  VALUE string;
  long length;
} text;

/* nil as "", an ASCII String as it is; 0 for what the Ruby path must judge. */
static int ascii_text(VALUE value, text *out) {
  out->string = value;
  if (NIL_P(value)) {
    out->length = 0;
    return 1;
  }
  if (!RB_TYPE_P(value, T_STRING) || !rb_enc_str_asciionly_p(value)) return 0;
  out->length = RSTRING_LEN(value);
  return 1;
}

static const char *bytes_of(const text *field) {
  return NIL_P(field->string) ? "" : RSTRING_PTR(field->string);
}

typedef struct {
  int is_double;
  int32_t whole;
  double real;
} number;

/* As the nginx source writes numbers: int32 when whole and in range, else a double. 0 for a
 * Bignum or anything not a number. */
static int number_of(VALUE value, number *out) {
  double real;
  if (FIXNUM_P(value)) {
    long whole = FIX2LONG(value);
    if (whole >= INT32_MIN && whole <= INT32_MAX) {
      out->is_double = 0;
      out->whole = (int32_t)whole;
      return 1;
    }
    real = (double)whole;
  } else if (RB_FLOAT_TYPE_P(value)) {
    real = RFLOAT_VALUE(value);
    if (isfinite(real) && real >= INT32_MIN && real <= INT32_MAX && real == trunc(real)) {
      out->is_double = 0;
      out->whole = (int32_t)real;
      return 1;
    }
  } else {
    return 0;
  }
  out->is_double = 1;
  out->real = real;
  return 1;
}

static char *put(char *at, const void *bytes, long length) {
  memcpy(at, bytes, (size_t)length);
  return at + length;
}

static char *put_uint32(char *at, uint32_t value) {
  for (int i = 0; i < 4; i++) at[i] = (char)(value >> (8 * i));
  return at + 4;
}

static char *put_uint64(char *at, uint64_t value) {
  for (int i = 0; i < 8; i++) at[i] = (char)(value >> (8 * i));
  return at + 8;
}

static const char *STRING_NAMES[] = {
  "remote_addr", "request", "method", "path", "query", "protocol",
  "http_referer", "http_user_agent", "http_host",
};
enum { K_REMOTE_ADDR, K_REQUEST, K_METHOD, K_PATH, K_QUERY, K_PROTOCOL, K_REFERER, K_AGENT, K_HOST };
static const char *NUMBER_NAMES[] = {"status", "body_bytes_sent", "request_time"};

/* An element's head: its type byte, its name and the name's NUL. */
static long key_size(const char *name) { return 1 + (long)strlen(name) + 1; }

static char *put_key(char *at, char type, const char *name) {
  *at++ = type;
  return put(at, name, (long)strlen(name) + 1);
}

static long string_size(int key, long length) { return key_size(STRING_NAMES[key]) + 4 + length + 1; }

/* A string element: its head, the length with the NUL, the bytes, the NUL. */
static char *put_string_element(char *at, int key, const char *bytes, long length) {
  at = put_key(at, 0x02, STRING_NAMES[key]);
  at = put_uint32(at, (uint32_t)(length + 1));
  at = put(at, bytes, length);
  *at++ = '\0';
  return at;
}

static char *put_text(char *at, int key, const text *field) {
  return put_string_element(at, key, bytes_of(field), field->length);
}

static long number_size(int name, const number *value) {
  return key_size(NUMBER_NAMES[name]) + (value->is_double ? 8 : 4);
}

static char *put_number(char *at, int name, const number *value) {
  at = put_key(at, value->is_double ? 0x01 : 0x10, NUMBER_NAMES[name]);
  if (!value->is_double) return put_uint32(at, (uint32_t)value->whole);
  uint64_t bits;
  memcpy(&bits, &value->real, sizeof bits);
  return put_uint64(at, bits);
}

/*
 * Eventstorm::Native.append_hit(packed, head, host_element, record) -> true, false or nil
 *
 * Appends one event to +packed+ (a binary String): its length, +head+ (the type element and
 * the time's key), the time, +host_element+, the request's fields, the closing NUL. Returns
 * true once written, false (nothing written) when the event would be over MAX_EVENT bytes,
 * and nil (nothing written) when the Ruby path must write it.
 */
static VALUE append_hit(VALUE self, VALUE packed, VALUE head, VALUE host_element, VALUE record) {
  Check_Type(packed, T_STRING);
  Check_Type(head, T_STRING);
  Check_Type(host_element, T_STRING);
  Check_Type(record, T_ARRAY);
  if (RARRAY_LEN(record) != RECORD_SLOTS) return Qnil;

  VALUE millis = rb_ary_entry(record, MILLIS);
  if (!FIXNUM_P(millis) || labs(FIX2LONG(millis)) > MAX_DATE_MS) return Qnil;
  /* The Ruby path takes the status's to_i: only an Integer is that same number here. */
  VALUE elapsed = rb_ary_entry(record, ELAPSED), status_value = rb_ary_entry(record, STATUS);
  if (!RB_FLOAT_TYPE_P(elapsed) || !FIXNUM_P(status_value)) return Qnil;
  number status, bytes, request_time;
  if (!number_of(status_value, &status) || !number_of(rb_ary_entry(record, BYTES), &bytes) ||
      /* Float#round(3) itself, so that the seconds are the Ruby path's to the last bit. */
      !number_of(rb_funcall(elapsed, id_round, 1, INT2FIX(3)), &request_time)) {
    return Qnil;
  }

  text remote_addr, method, script, path, query, protocol, referer, agent, host;
  VALUE protocol_value = rb_ary_entry(record, SERVER_PROTOCOL);
  if (NIL_P(protocol_value)) protocol_value = rb_ary_entry(record, HTTP_VERSION);
  if (!ascii_text(rb_ary_entry(record, REMOTE_ADDR), &remote_addr) ||
      !ascii_text(rb_ary_entry(record, METHOD), &method) ||
      !ascii_text(rb_ary_entry(record, SCRIPT_NAME), &script) ||
      !ascii_text(rb_ary_entry(record, PATH_INFO), &path) ||
      !ascii_text(rb_ary_entry(record, QUERY_STRING), &query) ||
      !ascii_text(protocol_value, &protocol) ||
      !ascii_text(rb_ary_entry(record, HTTP_REFERER), &referer) ||
      !ascii_text(rb_ary_entry(record, HTTP_USER_AGENT), &agent) ||
      !ascii_text(rb_ary_entry(record, HTTP_HOST), &host)) {
    return Qnil;
  }

  /* The path is SCRIPT_NAME and PATH_INFO, or "/" when both are empty. */
  long path_length = script.length + path.length;
  if (path_length == 0) path_length = 1;
  long request_length = method.length + 1 + path_length +
                        (query.length > 0 ? 1 + query.length : 0) + 1 + protocol.length;
  long size = 4 + RSTRING_LEN(head) + 8 + RSTRING_LEN(host_element) +
              string_size(K_REMOTE_ADDR, remote_addr.length) +
              string_size(K_REQUEST, request_length) + string_size(K_METHOD, method.length) +
              string_size(K_PATH, path_length) +
              (query.length > 0 ? string_size(K_QUERY, query.length) : 0) +
              string_size(K_PROTOCOL, protocol.length) + number_size(0, &status) +
              number_size(1, &bytes) + number_size(2, &request_time) +
              (referer.length > 0 ? string_size(K_REFERER, referer.length) : 0) +
              (agent.length > 0 ? string_size(K_AGENT, agent.length) : 0) +
              (host.length > 0 ? string_size(K_HOST, host.length) : 0) + 1;
  if (size > MAX_EVENT) return Qfalse;

  long start = RSTRING_LEN(packed);
  /* rb_str_modify_expand makes room for exactly what it is asked: asking for at least the
   * String's length again doubles it, so a batch is copied a few times, not once an event. */
  if ((long)rb_str_capacity(packed) - start < size) {
    rb_str_modify_expand(packed, size > start ? size : start);
  } else {
    rb_str_modify(packed);
  }
  char *at = RSTRING_PTR(packed) + start;
  at = put_uint32(at, (uint32_t)size);
  at = put(at, RSTRING_PTR(head), RSTRING_LEN(head));
  at = put_uint64(at, (uint64_t)FIX2LONG(millis));
  at = put(at, RSTRING_PTR(host_element), RSTRING_LEN(host_element));
  at = put_text(at, K_REMOTE_ADDR, &remote_addr);
  /* The request line: "METHOD PATH[?QUERY] PROTOCOL". */
  at = put_key(at, 0x02, STRING_NAMES[K_REQUEST]);
  at = put_uint32(at, (uint32_t)(request_length + 1));
  at = put(at, bytes_of(&method), method.length);
  *at++ = ' ';
  const char *path_at = at;
  if (script.length + path.length == 0) {
    *at++ = '/';
  } else {
    at = put(at, bytes_of(&script), script.length);
    at = put(at, bytes_of(&path), path.length);
  }
  if (query.length > 0) {
    *at++ = '?';
    at = put(at, bytes_of(&query), query.length);
  }
  *at++ = ' ';
  at = put(at, bytes_of(&protocol), protocol.length);
  *at++ = '\0';
  at = put_text(at, K_METHOD, &method);
  at = put_string_element(at, K_PATH, path_at, path_length);
  if (query.length > 0) at = put_text(at, K_QUERY, &query);
  at = put_text(at, K_PROTOCOL, &protocol);
  at = put_number(at, 0, &status);
  at = put_number(at, 1, &bytes);
  at = put_number(at, 2, &request_time);
  if (referer.length > 0) at = put_text(at, K_REFERER, &referer);
  if (agent.length > 0) at = put_text(at, K_AGENT, &agent);
  if (host.length > 0) at = put_text(at, K_HOST, &host);
  *at = '\0';
  rb_str_set_len(packed, start + size);
  return Qtrue;
}

void Init_native(void) {
  id_round = rb_intern("round");
  VALUE native = rb_define_module_under(rb_define_module("Eventstorm"), "Native");
  rb_define_module_function(native, "append_hit", append_hit, 4);
}
