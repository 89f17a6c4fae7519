/* test_common_utf8.c: the strict UTF-8 validator, including every class of invalid input. */
#include "unit.h"
#include "utf8.h"

#define U(s) utf8_count(s, sizeof(s) - 1)

TEST(ascii_and_multibyte) {
    CHECK_EQ_INT(U("hello"), 5);
    CHECK_EQ_INT(U("h\xc3\xa9llo"), 5);              /* é */
    CHECK_EQ_INT(U("\xe2\x82\xac"), 1);              /* € */
    CHECK_EQ_INT(U("\xf0\x9f\x98\x80"), 1);          /* 😀 */
    CHECK_EQ_INT(U("\xf4\x8f\xbf\xbf"), 1);          /* U+10FFFF */
    CHECK_EQ_INT(U(""), 0);
}
TEST(rejects_invalid) {
    CHECK_EQ_INT(U("\xc0\xaf"), -1);                 /* overlong / */
    CHECK_EQ_INT(U("\xe0\x80\xaf"), -1);             /* overlong, 3 bytes */
    CHECK_EQ_INT(U("\xf0\x80\x80\xaf"), -1);         /* overlong, 4 bytes */
    CHECK_EQ_INT(U("\xed\xa0\x80"), -1);             /* surrogate U+D800 */
    CHECK_EQ_INT(U("\xf4\x90\x80\x80"), -1);         /* above U+10FFFF */
    CHECK_EQ_INT(U("\xff"), -1);
    CHECK_EQ_INT(U("\x80"), -1);                     /* lone continuation */
    CHECK_EQ_INT(U("\xe2\x82"), -1);                 /* truncated */
    CHECK_EQ_INT(U("ab\xc3"), -1);                   /* truncated at end */
    CHECK_EQ_INT(U("\xe2\x28\xa1"), -1);             /* bad continuation */
    CHECK_EQ_INT(utf8_count("a\0b", 3), -1);         /* embedded NUL */
}

int main(void) {
    RUN(ascii_and_multibyte);
    RUN(rejects_invalid);
    return UNIT_DONE("utf8");
}
