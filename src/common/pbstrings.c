/*
 * pbstrings.c: see pbstrings.h. A read-only walk of the protobuf wire format (varint keys,
 * four wire types) guided by protobuf-c's generated descriptors; it decodes nothing itself.
 */
#include "pbstrings.h"

#include "utf8.h"

/* Nesting deeper than this is not in our schema; refuse rather than recurse without bound. */
#define MAX_DEPTH 16

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) { *out = v; return 0; }
    }
    return -1;
}

static const ProtobufCFieldDescriptor *walk(const ProtobufCMessageDescriptor *desc,
                                            const uint8_t *p, const uint8_t *end, int depth)
{
    const ProtobufCFieldDescriptor *broken = desc->n_fields ? &desc->fields[0] : NULL;
    if (depth > MAX_DEPTH) return broken;
    while (p < end) {
        uint64_t key, n;
        if (read_varint(&p, end, &key) < 0) return broken;
        switch (key & 7) {
        case 0: if (read_varint(&p, end, &n) < 0) return broken; continue;
        case 1: if (end - p < 8) return broken; p += 8; continue;
        case 5: if (end - p < 4) return broken; p += 4; continue;
        case 2: break;
        default: return broken;               /* groups are not in proto3 */
        }
        if (read_varint(&p, end, &n) < 0 || n > (uint64_t)(end - p)) return broken;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3));
        if (f && f->type == PROTOBUF_C_TYPE_STRING && utf8_count((const char *)p, n) < 0)
            return f;
        if (f && f->type == PROTOBUF_C_TYPE_MESSAGE) {
            const ProtobufCFieldDescriptor *bad = walk(f->descriptor, p, p + n, depth + 1);
            if (bad) return bad;
        }
        p += n;
    }
    return NULL;
}

const ProtobufCFieldDescriptor *pb_find_bad_string(const ProtobufCMessageDescriptor *desc,
                                                   const uint8_t *buf, size_t len)
{
    return walk(desc, buf, buf + len, 0);
}
