/* test_common_pbstrings.c: the encoded-string check, on frames packed by protobuf-c itself
 * and on strings protobuf-c would silently cut at a NUL. */
#include <stdlib.h>

#include "unit.h"
#include "parley.pb-c.h"
#include "pbstrings.h"

/* Packs a SendMessage frame whose text is text[0..n) (may hold NULs or bad bytes): protobuf-c
 * packs strings with strlen, so the text is patched into a same-length placeholder. */
static uint8_t *pack_send(const char *text, size_t n, size_t *len)
{
    char *ph = malloc(n + 1);
    memset(ph, 'x', n);
    ph[n] = 0;
    Parley__SendMessageRequest s = PARLEY__SEND_MESSAGE_REQUEST__INIT;
    s.chat_id = 7; s.text = ph; s.random_id = 99;
    Parley__ClientFrame f = PARLEY__CLIENT_FRAME__INIT;
    f.id = 1; f.request_case = PARLEY__CLIENT_FRAME__REQUEST_SEND_MESSAGE; f.send_message = &s;
    *len = parley__client_frame__get_packed_size(&f);
    uint8_t *buf = malloc(*len);
    parley__client_frame__pack(&f, buf);
    uint8_t *at = memmem(buf, *len, ph, n);
    if (at) memcpy(at, text, n);
    free(ph);
    return buf;
}

static const ProtobufCFieldDescriptor *check(const char *text, size_t n)
{
    size_t len;
    uint8_t *buf = pack_send(text, n, &len);
    const ProtobufCFieldDescriptor *bad =
        pb_find_bad_string(&parley__client_frame__descriptor, buf, len);
    free(buf);
    return bad;
}

TEST(valid_strings_pass) {
    CHECK(check("hello", 5) == NULL);
    CHECK(check("h\xc3\xa9llo \xf0\x9f\x98\x80", 11) == NULL);
}
TEST(nul_and_bad_utf8_name_the_field) {
    const ProtobufCFieldDescriptor *f = check("ab\0cd", 5);
    CHECK(f != NULL);
    if (f) CHECK_EQ_STR(f->name, "text");
    f = check("a\xff" "b", 3);
    CHECK(f && !strcmp(f->name, "text"));
    f = check("\xed\xa0\x80", 3);
    CHECK(f && !strcmp(f->name, "text"));
}
TEST(truncated_input_is_reported_not_overread) {
    size_t len;
    uint8_t *buf = pack_send("hello", 5, &len);
    for (size_t cut = 1; cut < len; cut++) {
        /* a cut inside the nested message must be caught, never read past `cut` */
        uint8_t *copy = malloc(cut);
        memcpy(copy, buf, cut);
        (void)pb_find_bad_string(&parley__client_frame__descriptor, copy, cut);
        free(copy);
    }
    CHECK(pb_find_bad_string(&parley__client_frame__descriptor, buf, len - 1) != NULL);
    free(buf);
}

int main(void) {
    RUN(valid_strings_pass);
    RUN(nul_and_bad_utf8_name_the_field);
    RUN(truncated_input_is_reported_not_overread);
    return UNIT_DONE("pbstrings");
}
