/*
 * test_lib_secret_rpc.c: libparley's internal secret-chat requests (src/lib/secret_rpc.h)
 * against a REAL parleyd that this test starts itself (the binary next to it:
 * BUILD/tests/../bin/parleyd, on a free port of 127.0.0.1, in a temporary data dir, stopped
 * with SIGTERM at the end and required to exit 0): publish, devices, bundles handed out
 * once, an envelope pushed to the recipient device's handler, inbox and ack, server error
 * codes passed through, argument errors caught before any round trip.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "../../src/lib/secret_rpc.h"
#include "../../src/lib/secret_store.h"

static char base[] = "/tmp/parley-secret-rpc-XXXXXX";
static char url[64], ca[PATH_MAX + 64];
static pid_t server_pid;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &len))
        return -1;
    close(fd);
    return ntohs(a.sin_port);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Starts parleyd; 0 once its certificate exists (the listener is up soon after). */
static int start_server(const char *argv0)
{
    char self[PATH_MAX], bin[PATH_MAX + 32], conf[PATH_MAX + 32], data[PATH_MAX + 32],
        log[PATH_MAX + 32], listen[64];
    snprintf(self, sizeof self, "%s", argv0);
    snprintf(bin, sizeof bin, "%s/../bin/parleyd", dirname(self));
    snprintf(conf, sizeof conf, "%s/parleyd.conf", base);
    snprintf(data, sizeof data, "%s/data", base);
    snprintf(log, sizeof log, "%s/parleyd.log", base);
    snprintf(ca, sizeof ca, "%s/tls/cert.pem", data);
    int port = free_port();
    if (port <= 0) return -1;
    snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
    snprintf(url, sizeof url, "wss://127.0.0.1:%d", port);
    FILE *f = fopen(conf, "w");
    if (!f) return -1;
    fputs("argon2_ops = 1\nargon2_mem = 64K\n", f);
    fclose(f);
    server_pid = fork();
    if (server_pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(bin, bin, "--data", data, "--listen", listen, "--config", conf, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 300; i++) {
        if (access(ca, R_OK) == 0) return 0;
        sleep_ms(50);
    }
    return -1;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static parley_client *client(parley_loop *loop, const char *name)
{
    char prof[PATH_MAX + 32];
    snprintf(prof, sizeof prof, "%s/%s", base, name);
    /* Ephemeral: a profile on disk would get the secret-chat layer, which publishes the
     * device's own keys at register; this test publishes hand-made ones. */
    parley_options o = { .profile_dir = prof, .server_url = url, .ca_file = ca,
                         .device_name = name, .ephemeral = 1 };
    parley_error err;
    parley_client *c = parley_open(loop, &o, &err);
    if (!c) fprintf(stderr, "  parley_open: %s\n", err.message);
    return c;
}

/* Registers `prefix`+random; retries while the listener comes up. */
static int reg(parley_client *c, const char *prefix, char *name, size_t len)
{
    parley_error err;
    snprintf(name, len, "%s%06d", prefix, (int)(getpid() % 1000000));
    for (int i = 0; i < 100; i++) {
        int rc = parley_register(c, name, "password-123", &err);
        if (rc == 0) return 0;
        if (err.code != PARLEY_E_CONNECT) {
            fprintf(stderr, "  register %s: %s\n", name, err.message);
            return rc;
        }
        sleep_ms(100);
    }
    return -1;
}

static void fill(uint8_t *b, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(v ^ (i * 13));
}

static int pushes;
static uint8_t pushed[64];
static size_t pushed_len;

static void on_secret(parley_client *c, void *ud, const pl_envelope *e)
{
    pushes++;
    pushed_len = e->len < sizeof pushed ? e->len : sizeof pushed;
    memcpy(pushed, e->envelope, pushed_len);
    *(uint64_t *)ud = e->id;
}

TEST(secret_requests_against_parleyd)
{
    parley_error err;
    parley_loop *loop = parley_loop_new(&err);
    CHECK(loop != NULL);
    parley_client *a = client(loop, "alice"), *b = client(loop, "bob");
    char an[32], bn[32];
    CHECK(a && b);
    if (!a || !b) return;
    CHECK_EQ_INT(reg(a, "salice", an, sizeof an), 0);
    CHECK_EQ_INT(reg(b, "sbob", bn, sizeof bn), 0);

    uint8_t id_a[PL_KEY_BYTES], id_b[PL_KEY_BYTES];
    fill(id_a, sizeof id_a, 1);
    fill(id_b, sizeof id_b, 2);
    pl_signed_prekey spk = { .id = 7 };
    fill(spk.pub, sizeof spk.pub, 3);
    fill(spk.sig, sizeof spk.sig, 4);
    pl_one_time_prekey otk[3];
    for (int i = 0; i < 3; i++) {
        otk[i].id = (uint32_t)(i + 1);
        fill(otk[i].pub, sizeof otk[i].pub, (uint8_t)(10 + i));
    }
    pl_prekey_status st = { 0 };
    CHECK_EQ_INT(pl_secret_status(a, &st, &err), 0);
    CHECK_EQ_INT(st.published, 0);
    CHECK_EQ_INT(pl_secret_publish(a, id_a, &spk, otk, 3, &st, &err), 0);
    CHECK_EQ_INT(st.one_time_remaining, 3);
    CHECK(st.device_id > 0 && st.published);
    int64_t dev_a = st.device_id;
    CHECK_EQ_INT(pl_secret_publish(b, id_b, &spk, NULL, 0, &st, &err), 0);
    int64_t dev_b = st.device_id;
    /* a new identity on the same device: the server's code comes through */
    CHECK_EQ_INT(pl_secret_publish(a, id_b, NULL, NULL, 0, &st, &err), -31);
    CHECK_EQ_INT(err.code, 31);

    pl_device *d = NULL;
    size_t nd = 0;
    char at[40];
    snprintf(at, sizeof at, "@%s", an);
    CHECK_EQ_INT(pl_secret_devices(b, at, 0, &d, &nd, &err), 0);
    CHECK_EQ_INT(nd, 1);
    if (nd == 1) {
        CHECK_EQ_INT(d[0].device_id, dev_a);
        CHECK(!memcmp(d[0].identity, id_a, PL_KEY_BYTES));
        CHECK_EQ_STR(d[0].name, "");           /* another account: no name, no last-active */
        CHECK_EQ_INT(d[0].last_active, 0);
    }
    int64_t uid_a = nd ? d[0].user_id : 0;
    pl_devices_free(d, nd);
    CHECK_EQ_INT(pl_secret_devices(a, at, 0, &d, &nd, &err), 0);
    CHECK_EQ_INT(nd, 1);
    if (nd == 1) {
        CHECK_EQ_STR(d[0].name, "alice");      /* the owner sees its own devices in full */
        CHECK(d[0].last_active > 0);
    }
    pl_devices_free(d, nd);

    pl_bundle bu1, bu2;
    CHECK_EQ_INT(pl_secret_bundle(b, an, 0, 0, &bu1, &err), 0);
    CHECK_EQ_INT(pl_secret_bundle(b, NULL, uid_a, dev_a, &bu2, &err), 0);
    CHECK(bu1.has_otk && bu2.has_otk && bu1.otk.id != bu2.otk.id);
    CHECK_EQ_INT(bu1.spk.id, 7);
    CHECK(!memcmp(bu1.identity, id_a, PL_KEY_BYTES) && !memcmp(bu1.spk.sig, spk.sig, PL_SIG_BYTES));
    CHECK_EQ_INT(pl_secret_status(a, &st, &err), 0);
    CHECK_EQ_INT(st.one_time_remaining, 1);

    /* an envelope: pushed to alice's handler, pending until acked */
    uint64_t got_id = 0, sent_id = 0;
    int64_t date = 0;
    pl_secret_set_handler(a, on_secret, &got_id);
    const uint8_t env[] = "opaque ciphertext bytes";
    CHECK_EQ_INT(pl_secret_send(b, uid_a, dev_a, 99, env, sizeof env, 0, &sent_id, &date, &err), 0);
    CHECK(sent_id > 0 && date > 0);
    for (int i = 0; i < 50 && !pushes; i++) parley_loop_run(loop, 100);
    CHECK_EQ_INT(pushes, 1);
    CHECK_EQ_INT(got_id, sent_id);
    CHECK(pushed_len == sizeof env && !memcmp(pushed, env, sizeof env));
    pl_envelope *in = NULL;
    size_t ni = 0;
    int more = 1;
    CHECK_EQ_INT(pl_secret_inbox(a, 0, 0, &in, &ni, &more, &err), 0);
    CHECK_EQ_INT(ni, 1);
    CHECK_EQ_INT(more, 0);
    if (ni == 1) {
        CHECK_EQ_INT(in[0].id, sent_id);
        CHECK_EQ_INT(in[0].from_device, dev_b);
        CHECK_EQ_INT(in[0].secret_chat, 99);
        CHECK_EQ_STR(in[0].from_username, bn);
    }
    pl_envelopes_free(in, ni);
    uint64_t *del = NULL;
    size_t ndel = 0;
    CHECK_EQ_INT(pl_secret_ack(b, &sent_id, 1, &del, &ndel, &err), 0);   /* not bob's */
    CHECK_EQ_INT(ndel, 0);
    free(del);
    CHECK_EQ_INT(pl_secret_ack(a, &sent_id, 1, &del, &ndel, &err), 0);
    CHECK(ndel == 1 && del[0] == sent_id);
    free(del);
    CHECK_EQ_INT(pl_secret_inbox(a, 0, 0, &in, &ni, &more, &err), 0);
    CHECK_EQ_INT(ni, 0);
    pl_envelopes_free(in, ni);

    /* errors: from the server, and arguments caught locally */
    CHECK_EQ_INT(pl_secret_send(b, uid_a, dev_b, 99, env, sizeof env, 0, NULL, NULL, &err), -30);
    CHECK_EQ_INT(pl_secret_bundle(b, NULL, 1LL << 40, 0, &bu1, &err), -PARLEY_E_USER_NOT_FOUND);
    CHECK_EQ_INT(pl_secret_send(b, uid_a, dev_a, 99, env, 0, 0, NULL, NULL, &err),
                 -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_secret_send(b, uid_a, dev_a, 0, env, 1, 0, NULL, NULL, &err),
                 -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_secret_ack(a, NULL, 0, NULL, NULL, &err), -PARLEY_E_ARGUMENT);
    CHECK_EQ_INT(pl_secret_devices(a, NULL, 0, &d, &nd, &err), -PARLEY_E_ARGUMENT);
    parley_close(a);
    parley_close(b);
    parley_loop_free(loop);
}

/* Issue 16 item 7: the signed prekey rotates with the clock the caller gives; the retired
 * private halves stay for the grace period, then go; the server hands out the new one. */
TEST(signed_prekey_rotation_with_a_moved_clock)
{
    parley_error err;
    parley_loop *loop = parley_loop_new(&err);
    char prof[PATH_MAX + 32], an[32], bn[32];
    snprintf(prof, sizeof prof, "%s/rot-alice", base);
    parley_options o = { .profile_dir = prof, .server_url = url, .ca_file = ca,
                         .device_name = "rot" };     /* on disk: the secret-chat layer runs */
    parley_client *a = parley_open(loop, &o, &err), *b = client(loop, "rot-bob");
    CHECK(a && b);
    if (!a || !b) return;
    CHECK_EQ_INT(reg(a, "rota", an, sizeof an), 0);  /* makes and publishes keys */
    CHECK_EQ_INT(reg(b, "rotb", bn, sizeof bn), 0);
    sc_identity ik;
    sc_signed_prekey spk, old;
    uint32_t next = 0;
    CHECK_EQ_INT(pl_sc_keys_load(a, a->session_id, &ik, &spk, &next, &err), 0);
    CHECK_EQ_INT(spk.id, 1);
    int64_t t0 = (int64_t)time(NULL), created = 0;
    int pending = -1;
    CHECK_EQ_INT(pl_sc_spk_state(a, &created, &pending, &err), 0);
    CHECK(pending == 0 && created <= t0 && created > t0 - 600);
    /* six days: nothing happens */
    CHECK_EQ_INT(pl_sc_rotate_due(a, &ik, &spk, created + 6 * 86400, &err), 0);
    CHECK_EQ_INT(spk.id, 1);
    CHECK_EQ_INT(pl_sc_spk_old_count(a), 0);
    /* a week: signed prekey 2, published; 1 retired but kept */
    int64_t t1 = created + PL_SC_SPK_ROTATE;
    CHECK_EQ_INT(pl_sc_rotate_due(a, &ik, &spk, t1, &err), 0);
    CHECK_EQ_INT(spk.id, 2);
    CHECK_EQ_INT(pl_sc_spk_state(a, &created, &pending, &err), 0);
    CHECK(created == t1 && pending == 0);
    CHECK_EQ_INT(pl_sc_spk_old_load(a, 1, &old, &err), 0);
    CHECK_EQ_INT(old.id, 1);
    pl_bundle bu;
    CHECK_EQ_INT(pl_secret_bundle(b, an, 0, 0, &bu, &err), 0);
    CHECK_EQ_INT(bu.spk.id, 2);
    CHECK(!memcmp(bu.spk.pub, spk.pk, PL_KEY_BYTES) && !memcmp(bu.identity, ik.sign_pk, PL_KEY_BYTES));
    sc_bundle sb = { .device = { bu.user_id, bu.device_id }, .spk_id = bu.spk.id };
    memcpy(sb.ik, bu.identity, SC_KEY);
    memcpy(sb.spk, bu.spk.pub, SC_KEY);
    memcpy(sb.spk_sig, bu.spk.sig, SC_SIG);
    CHECK_EQ_INT(sc_bundle_verify(&sb), 0);      /* signed by the same identity key */
    /* the stored keys are the rotated ones */
    sc_signed_prekey again;
    CHECK_EQ_INT(pl_sc_keys_load(a, a->session_id, &ik, &again, &next, &err), 0);
    CHECK_EQ_INT(again.id, 2);
    /* within the grace period 1 stays; past it, it goes (no rotation needed for that) */
    CHECK_EQ_INT(pl_sc_rotate_due(a, &ik, &spk, t1 + PL_SC_SPK_GRACE - 1, &err), 0);
    CHECK_EQ_INT(spk.id, 3);                     /* (a week had passed again: 2 retired) */
    CHECK_EQ_INT(pl_sc_spk_old_count(a), 2);
    CHECK_EQ_INT(pl_sc_rotate_due(a, &ik, &spk, t1 + PL_SC_SPK_GRACE + 1, &err), 0);
    CHECK_EQ_INT(pl_sc_spk_old_count(a), 1);
    CHECK_EQ_INT(pl_sc_spk_old_load(a, 1, &old, &err), 1);
    CHECK_EQ_INT(pl_sc_spk_old_load(a, 2, &old, &err), 0);
    sc_identity_wipe(&ik);
    sc_signed_prekey_wipe(&spk);
    sc_signed_prekey_wipe(&old);
    sc_signed_prekey_wipe(&again);
    parley_close(a);
    parley_close(b);
    parley_loop_free(loop);
}

int main(int argc, char **argv)
{
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        return 2;
    }
    int started = start_server(argv[0]) == 0;
    CHECK(started);
    if (started) RUN(secret_requests_against_parleyd);
    if (started) RUN(signed_prekey_rotation_with_a_moved_clock);
    int status = -1;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    if (unit_failed_checks && !unit_failed) unit_failed = 1;
    nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return UNIT_DONE("lib_secret_rpc");
}
