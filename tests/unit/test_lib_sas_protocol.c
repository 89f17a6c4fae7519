/* test_lib_sas_protocol.c: the interactive verification's protocol steps (api_secret_sas.c,
 * pl_sas_step and the pure local steps) between two real secret-chat sessions, with the
 * messages handed across by the test: an honest run ends DONE with both chats verified; a
 * tampered reveal, a substituted ephemeral key, a man in the middle with substituted identity
 * keys relaying the messages, a bad or reflected MAC, a low-order key, messages out of order
 * or of another run, and both sides starting at once all cancel and mark nothing. */
#include "sc_test.h"
#include "../../src/lib/secret_store.h"

static test_dev DA, DB, DM;

typedef struct {
    pl_sc_chat ch;
    pl_sas_run run;
} side;

static void side_make(side *s, const sc_session *sess)
{
    memset(s, 0, sizeof *s);
    s->ch.id = 7;
    s->ch.has_session = 1;
    s->ch.sess = *sess;                      /* shallow: the test frees the sessions */
    memcpy(s->ch.peer_ik, sc_session_peer_ik(sess), SC_KEY);
}

/* Delivers one verification payload to s; fx gets the effect, the run is replaced. */
static void deliver(side *s, int type, const uint8_t *body, size_t len, pl_sas_effect *fx)
{
    pl_sas_step(&s->run, &s->ch, type, body, len, 1000, fx);
    if (fx->changed)
        s->run = fx->run;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

static int is_cancel(const pl_sas_effect *fx, const side *s, int code)
{
    return fx->reply_type == P_SAS_CANCEL && fx->reply_len == SC_SAS_VID + 1 &&
           fx->reply[SC_SAS_VID] == code && s->run.state == PARLEY_SAS_CANCELLED &&
           s->run.cancel_code == code && !s->ch.verified && all_zero(s->run.ek_sk, SC_KEY) &&
           all_zero(s->run.k_mac, SC_KEY);
}

/* A starts, B accepts, A gets the key (reveal in *reveal). */
static void to_reveal(side *a, side *b, uint8_t reveal[PL_SAS_BODY])
{
    uint8_t body[PL_SAS_BODY];
    pl_sas_effect fx;
    if (pl_sas_make_start(&a->ch, 0, &a->run, body) != 0)
        abort();
    deliver(b, P_SAS_START, body, sizeof body, &fx);
    pl_sas_make_accept(&b->run, body);
    deliver(a, P_SAS_KEY, body, sizeof body, &fx);
    memcpy(reveal, fx.reply, PL_SAS_BODY);
}

TEST(honest_run)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&DA, &DB, -1, &a, &b), 0);
    side A, B;
    side_make(&A, &a);
    side_make(&B, &b);
    uint8_t body[PL_SAS_BODY];
    pl_sas_effect fx;
    CHECK_EQ_INT(pl_sas_make_start(&A.ch, 0, &A.run, body), 0);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_STARTED);
    deliver(&B, P_SAS_START, body, sizeof body, &fx);
    CHECK_EQ_INT(B.run.state, PARLEY_SAS_REQUESTED);
    CHECK(fx.notify && fx.remember_request && fx.reply_type == 0);
    pl_sas_make_accept(&B.run, body);
    CHECK_EQ_INT(B.run.state, PARLEY_SAS_ACCEPTED);
    deliver(&A, P_SAS_KEY, body, sizeof body, &fx);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_SHOW);
    CHECK_EQ_INT(fx.reply_type, P_SAS_REVEAL);
    CHECK(all_zero(A.run.ek_sk, SC_KEY));           /* the secret half is gone once used */
    uint8_t reveal[PL_SAS_BODY];
    memcpy(reveal, fx.reply, sizeof reveal);
    deliver(&B, P_SAS_REVEAL, reveal, sizeof reveal, &fx);
    CHECK_EQ_INT(B.run.state, PARLEY_SAS_SHOW);
    CHECK_EQ_STR(A.run.emoji, B.run.emoji);
    CHECK_EQ_INT(strlen(A.run.emoji), 28);
    /* A's user confirms first; B learns it but is not verified before its own user says so */
    CHECK_EQ_INT(pl_sas_make_confirm(&A.run, &A.ch, body), 0);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_CONFIRMED);
    CHECK(!A.ch.verified);
    deliver(&B, P_SAS_MAC, body, sizeof body, &fx);
    CHECK_EQ_INT(B.run.state, PARLEY_SAS_SHOW);
    CHECK(B.run.peer_confirmed && !B.ch.verified && fx.reply_type == 0);
    CHECK_EQ_INT(pl_sas_make_confirm(&B.run, &B.ch, body), 0);
    CHECK_EQ_INT(B.run.state, PARLEY_SAS_DONE);
    CHECK(B.ch.verified);
    deliver(&A, P_SAS_MAC, body, sizeof body, &fx);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_DONE);
    CHECK(A.ch.verified && fx.notify);
    CHECK(all_zero(A.run.k_mac, SC_KEY) && all_zero(B.run.k_mac, SC_KEY));
    /* a late copy of a message of the ended run changes nothing */
    deliver(&A, P_SAS_MAC, body, sizeof body, &fx);
    CHECK(!fx.changed && fx.reply_type == 0);
    sc_session_free(&a);
    sc_session_free(&b);
}

TEST(tampered_reveal_cancels)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&DA, &DB, -1, &a, &b), 0);
    side A, B;
    side_make(&A, &a);
    side_make(&B, &b);
    uint8_t reveal[PL_SAS_BODY];
    pl_sas_effect fx;
    to_reveal(&A, &B, reveal);
    reveal[SC_SAS_VID + 5] ^= 0x01;
    deliver(&B, P_SAS_REVEAL, reveal, sizeof reveal, &fx);
    CHECK(is_cancel(&fx, &B, PARLEY_SAS_C_COMMITMENT));
    CHECK_EQ_STR(B.run.emoji, "");
    /* the cancel reaches A: it ends too, by the peer, nothing marked */
    uint8_t cancel[SC_SAS_VID + 1];
    memcpy(cancel, fx.reply, sizeof cancel);       /* fx is rewritten by the next step */
    deliver(&A, P_SAS_CANCEL, cancel, sizeof cancel, &fx);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_CANCELLED);
    CHECK(A.run.by_peer && A.run.cancel_code == PARLEY_SAS_C_COMMITMENT && !A.ch.verified);
    CHECK_EQ_INT(fx.reply_type, 0);                 /* a cancel is never answered */
    sc_session_free(&a);
    sc_session_free(&b);
}

TEST(substituted_ephemeral_key_shows_different_emoji)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&DA, &DB, -1, &a, &b), 0);
    side A, B;
    side_make(&A, &a);
    side_make(&B, &b);
    uint8_t body[PL_SAS_BODY], m_sk[SC_KEY];
    pl_sas_effect fx;
    CHECK_EQ_INT(pl_sas_make_start(&A.ch, 0, &A.run, body), 0);
    deliver(&B, P_SAS_START, body, sizeof body, &fx);
    pl_sas_make_accept(&B.run, body);
    randombytes_buf(m_sk, sizeof m_sk);              /* someone swaps B's key for its own */
    crypto_scalarmult_base(body + SC_SAS_VID, m_sk);
    deliver(&A, P_SAS_KEY, body, sizeof body, &fx);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_SHOW);
    uint8_t reveal[PL_SAS_BODY];
    memcpy(reveal, fx.reply, sizeof reveal);
    deliver(&B, P_SAS_REVEAL, reveal, sizeof reveal, &fx);
    CHECK_EQ_INT(B.run.state, PARLEY_SAS_SHOW);
    CHECK(strcmp(A.run.emoji, B.run.emoji) != 0);
    /* even if A's user confirmed anyway, B cannot accept A's confirmation */
    CHECK_EQ_INT(pl_sas_make_confirm(&A.run, &A.ch, body), 0);
    deliver(&B, P_SAS_MAC, body, sizeof body, &fx);
    CHECK(is_cancel(&fx, &B, PARLEY_SAS_C_MAC));
    sc_session_free(&a);
    sc_session_free(&b);
}

/* The server substituted keys at X3DH: A's session is with M (A believes it is B), and M has
 * a session with B (B believes it is A). M relays the verification messages unchanged: the
 * two transcripts name different identity keys, so B's commitment check fails. */
TEST(relayed_run_across_substituted_identities_fails)
{
    sc_session am, ma, mb, bm;
    CHECK_EQ_INT(test_pair(&DA, &DM, -1, &am, &ma), 0);
    CHECK_EQ_INT(test_pair(&DM, &DB, -1, &mb, &bm), 0);
    /* claimed identities: M poses as B towards A and as A towards B */
    sc_device mb_dev = DB.dev, ma_dev = DA.dev;
    sc_put64(am.ad + 2 * SC_KEY + 16, (uint64_t)mb_dev.user_id);
    sc_put64(am.ad + 2 * SC_KEY + 24, (uint64_t)mb_dev.device_id);
    sc_put64(bm.ad + 2 * SC_KEY, (uint64_t)ma_dev.user_id);
    sc_put64(bm.ad + 2 * SC_KEY + 8, (uint64_t)ma_dev.device_id);
    side A, B;
    side_make(&A, &am);
    side_make(&B, &bm);
    uint8_t reveal[PL_SAS_BODY];
    pl_sas_effect fx;
    to_reveal(&A, &B, reveal);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_SHOW);
    deliver(&B, P_SAS_REVEAL, reveal, sizeof reveal, &fx);
    CHECK(is_cancel(&fx, &B, PARLEY_SAS_C_COMMITMENT));
    sc_session_free(&am);
    sc_session_free(&ma);
    sc_session_free(&mb);
    sc_session_free(&bm);
}

TEST(bad_reflected_and_duplicate_macs_cancel)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&DA, &DB, -1, &a, &b), 0);
    for (int variant = 0; variant < 3; variant++) {
        side A, B;
        side_make(&A, &a);
        side_make(&B, &b);
        uint8_t reveal[PL_SAS_BODY], mac[PL_SAS_BODY];
        pl_sas_effect fx;
        to_reveal(&A, &B, reveal);
        deliver(&B, P_SAS_REVEAL, reveal, sizeof reveal, &fx);
        CHECK_EQ_INT(pl_sas_make_confirm(&B.run, &B.ch, mac), 0);
        if (variant == 0) {
            mac[PL_SAS_BODY - 1] ^= 0x80;           /* flipped */
        } else if (variant == 1) {
            CHECK_EQ_INT(pl_sas_make_confirm(&A.run, &A.ch, mac), 0);
            A.run.state = PARLEY_SAS_SHOW;          /* A's own MAC fed back to A */
        } else {
            deliver(&A, P_SAS_MAC, mac, sizeof mac, &fx);    /* the real one, then again */
            CHECK(A.run.peer_confirmed);
        }
        deliver(&A, P_SAS_MAC, mac, sizeof mac, &fx);
        CHECK(is_cancel(&fx, &A, variant == 2 ? PARLEY_SAS_C_UNEXPECTED : PARLEY_SAS_C_MAC));
    }
    sc_session_free(&a);
    sc_session_free(&b);
}

TEST(out_of_order_and_other_runs)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&DA, &DB, -1, &a, &b), 0);
    side A, B;
    side_make(&A, &a);
    side_make(&B, &b);
    uint8_t body[PL_SAS_BODY], other[PL_SAS_BODY];
    pl_sas_effect fx;
    /* no run: steps of a run are dropped without an answer */
    memset(body, 0x42, sizeof body);
    for (int t = P_SAS_KEY; t <= P_SAS_CANCEL; t++) {
        deliver(&B, t, body, pl_sas_body_len(t), &fx);
        CHECK(!fx.changed && fx.reply_type == 0 && B.run.state == PARLEY_SAS_NONE);
    }
    /* wrong lengths are ignored */
    deliver(&B, P_SAS_START, body, sizeof body - 1, &fx);
    CHECK(!fx.changed && B.run.state == PARLEY_SAS_NONE);
    /* a MAC where a reveal is due */
    CHECK_EQ_INT(pl_sas_make_start(&A.ch, 0, &A.run, body), 0);
    deliver(&B, P_SAS_START, body, sizeof body, &fx);
    memcpy(other, body, SC_SAS_VID);
    deliver(&B, P_SAS_MAC, other, sizeof other, &fx);
    CHECK(is_cancel(&fx, &B, PARLEY_SAS_C_UNEXPECTED));
    /* a key of another run */
    side_make(&B, &b);
    deliver(&B, P_SAS_START, body, sizeof body, &fx);
    pl_sas_make_accept(&B.run, other);
    other[0] ^= 1;
    deliver(&A, P_SAS_KEY, other, sizeof other, &fx);
    CHECK(is_cancel(&fx, &A, PARLEY_SAS_C_UNEXPECTED));
    /* both start at once: both cancel */
    side_make(&A, &a);
    side_make(&B, &b);
    CHECK_EQ_INT(pl_sas_make_start(&A.ch, 0, &A.run, body), 0);
    CHECK_EQ_INT(pl_sas_make_start(&B.ch, 0, &B.run, other), 0);
    deliver(&A, P_SAS_START, other, sizeof other, &fx);
    CHECK(is_cancel(&fx, &A, PARLEY_SAS_C_BOTH_STARTED));
    deliver(&B, P_SAS_START, body, sizeof body, &fx);
    CHECK(is_cancel(&fx, &B, PARLEY_SAS_C_BOTH_STARTED));
    /* a request for another chat while one runs: "busy" for that run, ours unchanged */
    side_make(&A, &a);
    CHECK_EQ_INT(pl_sas_make_start(&A.ch, 0, &A.run, body), 0);
    pl_sc_chat other_chat = A.ch;
    other_chat.id = 8;
    pl_sas_step(&A.run, &other_chat, P_SAS_START, other, sizeof other, 1000, &fx);
    CHECK(!fx.changed && fx.reply_type == P_SAS_CANCEL &&
          fx.reply[SC_SAS_VID] == PARLEY_SAS_C_BUSY && memcmp(fx.reply, other, 16) == 0);
    CHECK_EQ_INT(A.run.state, PARLEY_SAS_STARTED);
    sc_session_free(&a);
    sc_session_free(&b);
}

TEST(low_order_key_and_key_change)
{
    sc_session a, b;
    CHECK_EQ_INT(test_pair(&DA, &DB, -1, &a, &b), 0);
    side A, B;
    side_make(&A, &a);
    side_make(&B, &b);
    uint8_t body[PL_SAS_BODY];
    pl_sas_effect fx;
    CHECK_EQ_INT(pl_sas_make_start(&A.ch, 0, &A.run, body), 0);
    uint8_t key_msg[PL_SAS_BODY] = {0};
    memcpy(key_msg, A.run.vid, SC_SAS_VID);         /* an all-zero (low-order) key */
    deliver(&A, P_SAS_KEY, key_msg, sizeof key_msg, &fx);
    CHECK(is_cancel(&fx, &A, PARLEY_SAS_C_BAD_KEY));
    /* a chat whose peer key changed and was not accepted takes no request */
    B.ch.key_changed = 1;
    deliver(&B, P_SAS_START, body, sizeof body, &fx);
    CHECK(!fx.changed && B.run.state == PARLEY_SAS_NONE);
    sc_session_free(&a);
    sc_session_free(&b);
}

int main(void)
{
    if (sc_init() != 0)
        return 1;
    test_dev_make(&DA, 1, 10);
    test_dev_make(&DB, 2, 20);
    test_dev_make(&DM, 3, 30);
    RUN(honest_run);
    RUN(tampered_reveal_cancels);
    RUN(substituted_ephemeral_key_shows_different_emoji);
    RUN(relayed_run_across_substituted_identities_fails);
    RUN(bad_reflected_and_duplicate_macs_cancel);
    RUN(out_of_order_and_other_runs);
    RUN(low_order_key_and_key_change);
    test_dev_wipe(&DA);
    test_dev_wipe(&DB);
    test_dev_wipe(&DM);
    return UNIT_DONE("test_lib_sas_protocol");
}
