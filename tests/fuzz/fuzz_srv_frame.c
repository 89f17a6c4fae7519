/*
 * fuzz_srv_frame.c: libFuzzer target for the first thing parleyd does with a received
 * WebSocket message: protobuf-c's ClientFrame decoder and the string check of
 * src/common/pbstrings.c (strict UTF-8, no NUL, in every string field at any depth).
 *
 * Beyond "no crash, no leak, no read out of bounds" it checks pbstrings' promise as an
 * oracle: when pb_find_bad_string() accepts a frame that decoded, every string of the
 * decoded message (walked generically through protobuf-c's descriptors, so fields added to
 * the schema later are covered too) is valid UTF-8, and the re-encoded frame decodes to the
 * same request and passes the check again. (A NUL that slipped through would not show in
 * the decoded string, which protobuf-c cuts there; tests/unit/test_common_pbstrings.c
 * covers NULs with known inputs.) pb_find_bad_string() also runs on every raw input,
 * decodable or not: it must never read outside the buffer whatever it is given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parley.pb-c.h"
#include "pbstrings.h"
#include "utf8.h"

/* 1 if every string field of m (recursively) is strict UTF-8. Counts the unknown fields
 * kept by the decoder into *unknown. */
static int strings_ok(const ProtobufCMessage *m, int depth, unsigned *unknown)
{
    if (!m || depth > 32) return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    *unknown += m->n_unknown_fields;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        const char *base = (const char *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(const uint32_t *)((const char *)m + f->quantifier_offset);
            if (which != f->id) continue;
        }
        size_t n = 1;
        const void *const *items = (const void *const *)base;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            n = *(const size_t *)((const char *)m + f->quantifier_offset);
            items = *(const void *const *const *)base;
        }
        for (size_t k = 0; k < n; k++) {
            const void *v = items[k];
            if (!v) continue;
            if (f->type == PROTOBUF_C_TYPE_STRING) {
                const char *s = v;
                if (utf8_count(s, strlen(s)) < 0) return 0;
            } else if (!strings_ok(v, depth + 1, unknown)) {
                return 0;
            }
        }
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const ProtobufCFieldDescriptor *bad =
        pb_find_bad_string(&parley__client_frame__descriptor, data, size);
    Parley__ClientFrame *f = parley__client_frame__unpack(NULL, size, data);
    if (!f) return 0;
    if (!bad) {
        unsigned unknown = 0;
        if (!strings_ok(&f->base, 0, &unknown)) abort();  /* a bad string got past pbstrings */
        size_t n = parley__client_frame__get_packed_size(f);
        uint8_t *buf = malloc(n ? n : 1);
        if (!buf) abort();
        size_t got = parley__client_frame__pack(f, buf);
        if (got != n) abort();
        /* What parleyd would send on (wire.c re-encodes decoded text) decodes again and
         * passes the same check. Not for frames with unknown fields: protobuf-c accepts
         * field number 0 in a non-minimal varint key (82 00) but not in the minimal one its
         * encoder writes back (02), so such a frame does not survive re-encoding; parleyd
         * never re-encodes a client's unknown fields, so that quirk reaches nothing. */
        Parley__ClientFrame *g = parley__client_frame__unpack(NULL, n, buf);
        if (!g && unknown) {
            free(buf);
            parley__client_frame__free_unpacked(f, NULL);
            return 0;
        }
        if (!g) abort();
        if (pb_find_bad_string(&parley__client_frame__descriptor, buf, n)) abort();
        if (g->request_case != f->request_case || g->id != f->id) abort();
        parley__client_frame__free_unpacked(g, NULL);
        free(buf);
    }
    parley__client_frame__free_unpacked(f, NULL);
    return 0;
}
