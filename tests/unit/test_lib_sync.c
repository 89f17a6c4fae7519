/* test_lib_sync.c: update ordering without a network: contiguous pushes apply, old ones are
 * dropped, gaps ask for a difference, difference pages and own results (ranges of
 * positions: pts, pts_count) move the position, and the saved position never passes an
 * update the program has not received. */
#include <stdlib.h>
#include <string.h>
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
    CHECK_EQ_INT(pl_sync_result(&s, 4, 1), 0);
    CHECK_EQ_INT(s.pts, 4);
    CHECK_EQ_INT(pl_sync_result(&s, 6, 1), 1); /* 5 is missing: do not jump over it */
    CHECK_EQ_INT(s.pts, 4);
    pl_sync_result(&s, 2, 1);
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
    pl_sync_result(&s, 6, 1);                          /* own send after that */
    CHECK_EQ_INT(pl_sync_safe_position(&s), 6);
    pl_sync_enqueue(&s, upd(7));
    pl_sync_enqueue(&s, upd(8));
    pl_sync_clear(&s);
    CHECK_EQ_INT(s.n, 0);
    CHECK(s.head == NULL && s.tail == NULL);
}

TEST(own_echo_filled_by_pushes) {
    pl_sync s = { .pts = 10 };
    pl_sync_result(&s, 12, 1);                 /* own send while 11 is still on its way */
    CHECK_EQ_INT(s.pts, 10);
    CHECK_EQ_INT(s.n_own, 1);
    pl_sync_result(&s, 14, 1);
    CHECK_EQ_INT(pl_sync_push(&s, 11), SYNC_APPLY);   /* someone else's: delivered */
    CHECK_EQ_INT(s.pts, 12);                /* and our own 12 is passed silently */
    CHECK_EQ_INT(s.n_own, 1);
    CHECK_EQ_INT(pl_sync_push(&s, 13), SYNC_APPLY);
    CHECK_EQ_INT(s.pts, 14);
    CHECK_EQ_INT(s.n_own, 0);
    /* an own pts that does come as a push is not delivered either */
    pl_sync_result(&s, 16, 1);
    CHECK_EQ_INT(pl_sync_push(&s, 15), SYNC_APPLY);
    CHECK_EQ_INT(s.pts, 16);
    pl_sync_result(&s, 18, 1);
    s.pts = 17;
    CHECK_EQ_INT(pl_sync_push(&s, 18), SYNC_OWN);
    CHECK_EQ_INT(s.pts, 18);
    CHECK_EQ_INT(s.n_own, 0);
}

TEST(own_echo_filled_by_difference) {
    pl_sync s = { .pts = 20 };
    pl_sync_result(&s, 22, 1);
    pl_sync_result(&s, 25, 1);
    pl_sync_result(&s, 22, 1);                 /* repeated: kept once */
    pl_sync_result(&s, 19, 1);                 /* behind: ignored */
    CHECK_EQ_INT(s.n_own, 2);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 21), 1);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 22), 0);     /* own: not delivered */
    CHECK_EQ_INT(s.pts, 22);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 24), 1);     /* 23 vanished */
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 25), 0);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 26), 1);
    CHECK_EQ_INT(s.n_own, 0);
    /* a page end that jumps over own entries forgets them */
    pl_sync_result(&s, 30, 1);
    CHECK_EQ_INT(pl_sync_diff_end(&s, 31, 0), 0);
    CHECK_EQ_INT(s.pts, 31);
    CHECK_EQ_INT(s.n_own, 0);
}

TEST(own_set_bounded) {
    pl_sync s = { .pts = 0 };
    for (uint64_t p = 2; p < 2 + 2 * PL_OWN_MAX; p += 2)
        pl_sync_result(&s, p, 1);
    CHECK_EQ_INT(s.n_own, PL_OWN_MAX);
    pl_sync_result(&s, 1000, 1);               /* full: the lowest (2) gives way */
    CHECK_EQ_INT(s.n_own, PL_OWN_MAX);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 2), 1);       /* shown again, never lost */
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 4), 0);
    pl_sync_result(&s, 3, 1);                  /* lower than everything kept: not kept */
    CHECK_EQ_INT(s.n_own, PL_OWN_MAX - 1);
}

TEST(own_text_round_trip) {
    pl_sync s = { .pts = 5 }, t = { .pts = 5 }, u = { .pts = 5 };
    char buf[PL_OWN_TEXT];
    pl_sync_own_format(&s, buf, sizeof(buf));
    CHECK(buf[0] == '\0');
    pl_sync_result(&s, 9, 1);
    pl_sync_result(&s, 7, 1);
    pl_sync_own_format(&s, buf, sizeof(buf));
    pl_sync_own_parse(&t, buf);
    CHECK_EQ_INT(t.n_own, 2);
    CHECK_EQ_INT(pl_sync_diff_entry(&t, 7), 0);
    CHECK_EQ_INT(pl_sync_diff_entry(&t, 8), 1);
    CHECK_EQ_INT(pl_sync_diff_entry(&t, 9), 0);
    /* damaged or stale text: what parses is kept, nothing crashes */
    pl_sync_own_parse(&u, "3 8 x 12");
    CHECK_EQ_INT(u.n_own, 1);
    pl_sync_own_parse(&u, "99999999999999999999999 7");
    CHECK_EQ_INT(u.n_own, 1);
    pl_sync_own_parse(&u, NULL);
    pl_sync_own_parse(&u, "");
    CHECK_EQ_INT(u.n_own, 1);
    /* a short buffer cuts at a whole entry */
    char small[3];
    pl_sync_own_format(&s, small, sizeof(small));
    CHECK(strcmp(small, "9") == 0 || strcmp(small, "7") == 0);
}

TEST(result_ranges) {
    pl_sync s = { .pts = 10 };
    CHECK_EQ_INT(pl_sync_result(&s, 12, 2), 0);      /* 11-12: a group and its service msg */
    CHECK_EQ_INT(s.pts, 12);
    CHECK_EQ_INT(pl_sync_result(&s, 0, 0), 0);       /* logged nothing */
    CHECK_EQ_INT(pl_sync_result(&s, 12, 2), 0);      /* seen */
    CHECK_EQ_INT(s.pts, 12);
    /* 13 is missing (someone else's, on its way): 14-16 are kept as own, caller fetches */
    CHECK_EQ_INT(pl_sync_result(&s, 16, 3), 1);
    CHECK_EQ_INT(s.pts, 12);
    CHECK_EQ_INT(s.n_own, 1);
    CHECK_EQ_INT(pl_sync_push(&s, 14), SYNC_GAP);     /* never pushed to us, but if it were */
    CHECK_EQ_INT(pl_sync_push(&s, 13), SYNC_APPLY);
    CHECK_EQ_INT(s.pts, 16);                          /* the whole own range is passed */
    CHECK_EQ_INT(s.n_own, 0);
    /* a difference that reaches into an own range passes the rest of it */
    CHECK_EQ_INT(pl_sync_result(&s, 22, 4), 1);      /* 19-22, 17-18 missing */
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 17), 1);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 19), 0);     /* 18 vanished; 19 is ours */
    CHECK_EQ_INT(s.pts, 22);
    CHECK_EQ_INT(s.n_own, 0);
    CHECK_EQ_INT(pl_sync_diff_entry(&s, 20), 0);
    /* a range that overlaps the position: only the part above it counts */
    CHECK_EQ_INT(pl_sync_result(&s, 25, 5), 0);      /* 21-25 with local 22 */
    CHECK_EQ_INT(s.pts, 25);
    /* a count larger than pts itself (malformed) cannot wrap around */
    CHECK_EQ_INT(pl_sync_result(&s, 30, 100), 0);
    CHECK_EQ_INT(s.pts, 30);
}

TEST(own_ranges_merge) {
    pl_sync s = { .pts = 0 };
    pl_sync_result(&s, 12, 3);                        /* 10-12 */
    pl_sync_result(&s, 14, 2);                        /* 13-14: adjacent, one range */
    CHECK_EQ_INT(s.n_own, 1);
    pl_sync_result(&s, 11, 1);                        /* inside: nothing new */
    CHECK_EQ_INT(s.n_own, 1);
    pl_sync_result(&s, 20, 2);
    CHECK_EQ_INT(s.n_own, 2);
    pl_sync_result(&s, 19, 5);                        /* 15-19 joins both */
    CHECK_EQ_INT(s.n_own, 1);
    CHECK(s.own[0].lo == 10 && s.own[0].hi == 20);
    CHECK_EQ_INT(pl_sync_diff_end(&s, 9, 0), 0);
    CHECK_EQ_INT(s.pts, 20);                          /* 10-20 follow 9 directly */
}

TEST(own_range_text) {
    pl_sync s = { .pts = 5 }, t = { .pts = 5 }, old = { .pts = 5 };
    char buf[PL_OWN_TEXT];
    pl_sync_result(&s, 9, 3);
    pl_sync_result(&s, 12, 1);
    pl_sync_own_format(&s, buf, sizeof(buf));
    CHECK(strcmp(buf, "7-9 12") == 0 || strcmp(buf, "12 7-9") == 0);
    pl_sync_own_parse(&t, buf);
    CHECK_EQ_INT(t.n_own, 2);
    CHECK_EQ_INT(pl_sync_diff_entry(&t, 6), 1);
    CHECK_EQ_INT(t.pts, 9);                           /* 7-9 passed */
    /* what a library before ranges saved: single numbers */
    pl_sync_own_parse(&old, "7 8 9");
    CHECK_EQ_INT(old.n_own, 1);
    CHECK_EQ_INT(pl_sync_push(&old, 6), SYNC_APPLY);
    CHECK_EQ_INT(old.pts, 9);
    /* damaged ranges: what parses before them is kept */
    pl_sync s2 = { .pts = 1 };
    pl_sync_own_parse(&s2, "4-3 8");
    CHECK_EQ_INT(s2.n_own, 0);
    pl_sync_own_parse(&s2, "8 -3");
    CHECK_EQ_INT(s2.n_own, 1);
    pl_sync_own_parse(&s2, "20-");
    CHECK_EQ_INT(s2.n_own, 1);
    /* the longest text fits PL_OWN_TEXT */
    pl_sync big = { .pts = 0 };
    for (uint64_t p = 1; big.n_own < PL_OWN_MAX; p += 3)
        pl_sync_result(&big, UINT64_MAX - p, 2);
    char full[PL_OWN_TEXT];
    pl_sync_own_format(&big, full, sizeof(full));
    pl_sync back = { .pts = 0 };
    pl_sync_own_parse(&back, full);
    CHECK_EQ_INT(back.n_own, PL_OWN_MAX);
}

TEST(save_policy) {
    pl_sync s = { .pts = 1 };
    CHECK(pl_sync_save_due(&s, 0));                  /* nothing ready: save */
    pl_sync_enqueue(&s, upd(2));
    CHECK(!pl_sync_save_due(&s, 1));                 /* mid catch-up: wait */
    CHECK(!pl_sync_save_due(&s, PL_SAVE_EVERY - 1));
    CHECK(pl_sync_save_due(&s, PL_SAVE_EVERY));
    pl_sync_clear(&s);
}

int main(void) {
    RUN(push_classification);
    RUN(difference_pages);
    RUN(own_results);
    RUN(queue_and_safe_position);
    RUN(own_echo_filled_by_pushes);
    RUN(own_echo_filled_by_difference);
    RUN(own_set_bounded);
    RUN(own_text_round_trip);
    RUN(result_ranges);
    RUN(own_ranges_merge);
    RUN(own_range_text);
    RUN(save_policy);
    return UNIT_DONE("lib_sync");
}
