/*
 * A complete eventstorm wire protocol v1 receiver in C, written from
 * docs/protocol.md alone (libzmq only; the BSON walking is done by hand).
 *
 * Build: cc -O2 -o receive receive.c -lzmq
 * Usage: receive ENDPOINT [PREFIX] [EVENTS]
 *   ENDPOINT  `>tcp://host:5556` or a bare address connects, `@tcp://0.0.0.0:5556` binds
 *   PREFIX    topic prefix to subscribe to (default: everything)
 *   EVENTS    exit after this many delivered events (default: never)
 *
 * Prints one line per message and, at the end, the totals:
 *   total events=N lost=N duplicates=N malformed=N
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define HEADER_SIZE 24
#define MAX_STREAMS 4096

static uint32_t le32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p) {
  return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Next expected index per (source, topic): the heart of the accounting. */
typedef struct {
  uint64_t source;
  char topic[256];
  uint64_t expected;
} stream_t;

static stream_t streams[MAX_STREAMS];
static int stream_count;

static stream_t *find_stream(uint64_t source, const char *topic, uint64_t first) {
  for (int i = 0; i < stream_count; i++) {
    if (streams[i].source == source && strcmp(streams[i].topic, topic) == 0) return &streams[i];
  }
  /* First sight: joining late is not loss. A real receiver evicts the least
   * recently seen stream; this one starts over. */
  if (stream_count == MAX_STREAMS) stream_count = 0;
  stream_t *s = &streams[stream_count++];
  s->source = source;
  snprintf(s->topic, sizeof s->topic, "%s", topic);
  s->expected = first;
  return s;
}

/* Size of a BSON element's value, or -1 when it does not fit in `left` bytes. */
static int64_t value_size(unsigned char kind, const unsigned char *v, int64_t left) {
  switch (kind) {
    case 0x01: case 0x09: case 0x11: case 0x12: return 8;  /* double, date, timestamp, int64 */
    case 0x10: return 4;                                    /* int32 */
    case 0x08: return 1;                                    /* bool */
    case 0x07: return 12;                                   /* ObjectId */
    case 0x13: return 16;                                   /* decimal128 */
    case 0x06: case 0x0A: case 0x7F: case 0xFF: return 0;   /* undefined, null, max/min key */
    case 0x02: case 0x0D: case 0x0E:                        /* string, code, symbol */
      return left < 4 ? -1 : 4 + (int64_t)(int32_t)le32(v);
    case 0x03: case 0x04: case 0x0F:                        /* document, array, code with scope */
      return left < 4 ? -1 : (int64_t)(int32_t)le32(v);
    case 0x05: return left < 4 ? -1 : 5 + (int64_t)(int32_t)le32(v); /* binary */
    case 0x0B: {                                            /* regex: two cstrings */
      const unsigned char *end1 = memchr(v, 0, (size_t)left);
      if (!end1) return -1;
      const unsigned char *end2 = memchr(end1 + 1, 0, (size_t)(left - (end1 + 1 - v)));
      return end2 ? end2 + 1 - v : -1;
    }
    case 0x0C: return left < 4 ? -1 : 4 + (int64_t)(int32_t)le32(v) + 12; /* DBPointer */
    default: return -1;
  }
}

/* 1 when the document's top-level string `type` equals `topic`, 0 otherwise. */
static int type_matches(const unsigned char *doc, int64_t len, const char *topic) {
  int64_t off = 4;
  while (off < len - 1) {
    unsigned char kind = doc[off++];
    const unsigned char *name = doc + off;
    const unsigned char *name_end = memchr(name, 0, (size_t)(len - off));
    if (!name_end) return 0;
    off = name_end + 1 - doc;
    int64_t size = value_size(kind, doc + off, len - 1 - off);
    if (size < 0 || off + size > len - 1) return 0;
    if (kind == 0x02 && strcmp((const char *)name, "type") == 0) {
      int64_t n = (int32_t)le32(doc + off) - 1; /* the length counts the NUL */
      return n >= 0 && (size_t)n == strlen(topic) && memcmp(doc + off + 4, topic, (size_t)n) == 0;
    }
    off += size;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: receive ENDPOINT [PREFIX] [EVENTS]\n");
    return 2;
  }
  const char *endpoint = argv[1];
  const char *prefix = argc > 2 ? argv[2] : "";
  long long stop_after = argc > 3 ? atoll(argv[3]) : -1;

  void *ctx = zmq_ctx_new();
  void *sub = zmq_socket(ctx, ZMQ_SUB);
  int64_t max_size = 16 << 20; /* a hostile peer cannot make us allocate more */
  zmq_setsockopt(sub, ZMQ_MAXMSGSIZE, &max_size, sizeof max_size);
  zmq_setsockopt(sub, ZMQ_SUBSCRIBE, prefix, strlen(prefix));
  int rc = endpoint[0] == '@' ? zmq_bind(sub, endpoint + 1)
                              : zmq_connect(sub, endpoint + (endpoint[0] == '>'));
  if (rc != 0) {
    fprintf(stderr, "receive: %s: %s\n", endpoint, zmq_strerror(zmq_errno()));
    return 2;
  }
  fprintf(stderr, "receive: listening on %s\n", endpoint);

  uint64_t events = 0, lost = 0, duplicates = 0, malformed = 0;
  while (stop_after < 0 || (long long)events < stop_after) {
    zmq_msg_t frames[3];
    int count = 0, more = 1;
    while (more) {
      zmq_msg_t part;
      zmq_msg_init(&part);
      if (zmq_msg_recv(&part, sub, 0) < 0) {
        fprintf(stderr, "receive: %s\n", zmq_strerror(zmq_errno()));
        return 1;
      }
      more = zmq_msg_more(&part);
      if (count < 3) frames[count] = part; else zmq_msg_close(&part);
      count++;
    }
    int kept = count < 3 ? count : 3;
    const char *problem = NULL;
    char topic[256] = "";
    if (count != 2 && count != 3) problem = "frames";
    size_t topic_size = zmq_msg_size(&frames[0]);
    if (!problem && (topic_size == 0 || topic_size > 255)) problem = "topic";
    if (!problem) memcpy(topic, zmq_msg_data(&frames[0]), topic_size);
    if (!problem && strlen(topic) != topic_size) problem = "topic";

    const unsigned char *header = NULL;
    uint32_t declared = 0;
    uint64_t source = 0, first = 0;
    if (!problem && count == 3) {
      if (zmq_msg_size(&frames[1]) != HEADER_SIZE) problem = "header_size";
      else {
        header = zmq_msg_data(&frames[1]);
        if (header[0] != 0xE5) problem = "magic";
        else if (header[1] != 1) problem = "version";
        else if (header[2] != 0 || header[3] != 0) problem = "flags";
        declared = le32(header + 4);
        source = le64(header + 8);
        first = le64(header + 16);
        if (!problem && first >= (1ULL << 53)) problem = "index";
      }
    }

    /* Walk the body by document lengths alone: no BSON library needed. */
    const unsigned char *body = problem ? NULL : zmq_msg_data(&frames[count - 1]);
    size_t body_size = problem ? 0 : zmq_msg_size(&frames[count - 1]);
    uint32_t documents = 0;
    for (size_t off = 0; !problem && off < body_size;) {
      if (body_size - off < 4) { problem = "truncated"; break; }
      int64_t len = (int32_t)le32(body + off);
      if (len < 5) { problem = "bson"; break; }
      if ((uint64_t)len > body_size - off) { problem = "oversized"; break; }
      if (body[off + len - 1] != 0) { problem = "bson"; break; }
      if (!type_matches(body + off, len, topic)) { problem = "envelope"; break; }
      documents++;
      off += (size_t)len;
    }
    if (!problem && count == 3 && documents != declared) problem = "count";
    if (!problem && count == 2 && documents == 0) problem = "count";

    if (problem) {
      malformed++;
      printf("malformed %s\n", problem);
    } else if (count == 2) {
      events += documents; /* minimal client: delivered, not accounted */
      printf("%s unaccounted count=%u\n", topic, documents);
    } else {
      stream_t *s = find_stream(source, topic, first);
      uint64_t message_lost = 0, skipped = 0;
      if (first > s->expected) message_lost = first - s->expected;
      if (first < s->expected) {
        uint64_t behind = s->expected - first;
        skipped = behind < declared ? behind : declared;
      }
      if (first + declared > s->expected) s->expected = first + declared;
      lost += message_lost;
      duplicates += skipped;
      events += declared - skipped;
      printf("%s source=%016" PRIx64 " first=%" PRIu64 " count=%u lost=%" PRIu64
             " duplicates=%" PRIu64 "\n",
             topic, source, first, declared, message_lost, skipped);
    }
    fflush(stdout);
    for (int i = 0; i < kept; i++) zmq_msg_close(&frames[i]);
  }
  printf("total events=%" PRIu64 " lost=%" PRIu64 " duplicates=%" PRIu64 " malformed=%" PRIu64 "\n",
         events, lost, duplicates, malformed);
  zmq_close(sub);
  zmq_ctx_term(ctx);
  return 0;
}
