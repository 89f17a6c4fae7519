/* test_lib_sync.c: update ordering without a network: contiguous pushes apply, old ones are
 * dropped, gaps ask for a difference, difference pages and own results move the position,
 * and the saved position never passes an update the program has not received. */
#include <stdlib.h>
#include "unit.h"
#include "../../src/lib/lib.h"

static parley_update *upd(uint64_t pts)
{
    parley_update *u = calloc(1, sizeof(*u));
    u->pts = pts;
    u->kind = PARLEY_UPDATE_CHAT_REMOVED;
    return u;
}

TEST(push_classification) {
    pl_sync s = { .pts = 5 };
    CHECK_EQ_INT(pl_sync_push(&s, 6), SYNC_APPLY);
    CHECK_EQ_INT(s.pts, 6);
    CHECK_EQ_INT(pl_sync_push(&s, 6), SYNC_DUPLICATE);
    CHECK_EQ_INT(pl_sync_push(&s, 2), SYNC_DUPLICATE);
    CHECK_EQ_INT(s.pts, 6);
    CHECK_EQ_INT(pl_sync_push(&s, 9), SYNC_GAP);
    CHECK_EQ_INT(s.pts, 6);                 /* a gap never moves the position */
    CHECK_EQ_INT(pl_sync_push(&s, 7), SYNC_APPLY);
}

TEST(difference_pages) {
    pl_sync s = { .pts = 10 };
    /* a page may skip pts of content that no longer exists */
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 9), 0);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 11), 1);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 14), 1);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 14), 0);
    CHECK_EQ_INT(pl_sync_diff_end(&s, 15, 1), 1);   /* more: fetch again */
    CHECK_EQ_INT(s.pts, 15);
    CHECK_EQ_INT(pl_sync_diff_end(&s, 12, 0), 0);   /* behind: position stays */
    CHECK_EQ_INT(s.pts, 15);
    s.diff_again = 1;                               /* gap seen meanwhile */
    CHECK_EQ_INT(pl_sync_diff_end(&s, 15, 0), 1);
    CHECK_EQ_INT(s.diff_again, 0);
}

TEST(own_results) {
    pl_sync s = { .pts = 3 };
    pl_sync_result(&s, 4);
    CHECK_EQ_INT(s.pts, 4);
    pl_sync_result(&s, 6);                  /* 5 is missing: do not jump over it */
    CHECK_EQ_INT(s.pts, 4);
    pl_sync_result(&s, 2);
    CHECK_EQ_INT(s.pts, 4);
}

TEST(queue_and_safe_position) {
    pl_sync s = { .pts = 3 };
    CHECK_EQ_INT(pl_sync_safe_position(&s), 3);
    CHECK_EQ_INT(pl_sync_push(&s, 4), SYNC_APPLY);
    CHECK_EQ_INT(pl_sync_enqueue(&s, upd(4)), 0);
    CHECK_EQ_INT(pl_sync_push(&s, 5), SYNC_APPLY);
    CHECK_EQ_INT(pl_sync_enqueue(&s, upd(5)), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_EQ_INT(pl_sync_safe_position(&s), 3);     /* 4 and 5 not returned yet */
    parley_update *u = pl_sync_dequeue(&s);
    CHECK(u && u->pts == 4);
    parley_update_free(u);
    CHECK_EQ_INT(pl_sync_safe_position(&s), 4);
    u = pl_sync_dequeue(&s);
    CHECK(u && u->pts == 5);
    parley_update_free(u);
    CHECK(pl_sync_dequeue(&s) == NULL);
    CHECK_EQ_INT(pl_sync_safe_position(&s), 5);
    pl_sync_result(&s, 6);                          /* own send after that */
    CHECK_EQ_INT(pl_sync_safe_position(&s), 6);
    pl_sync_enqueue(&s, upd(7));
    pl_sync_enqueue(&s, upd(8));
    pl_sync_clear(&s);
    CHECK_EQ_INT(s.n, 0);
    CHECK(s.head == NULL && s.tail == NULL);
}

int main(void) {
    RUN(push_classification);
    RUN(difference_pages);
    RUN(own_results);
    RUN(queue_and_safe_position);
    return UNIT_DONE("lib_sync");
}
