/* test_sfu_control.c: the control channel (control.c, proto/sfu.proto) in process over a real
 * Unix-domain socket: create room, add a participant from the real Chromium offer (answer,
 * ICE credentials, fingerprint come back), bad SDP and unknown ids give errors that change
 * nothing, room state, an oversized frame closes the connection; then the parley-sfu binary
 * itself: started with --control, it prints its port, serves a request and exits 0 on TERM. */
#include "unit.h"
#include "control.h"
#include "sfu.pb-c.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int connect_unix(const char *path) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    for (int i = 0; i < 200; i++) {
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        usleep(10000);
    }
    close(fd);
    return -1;
}

static void send_req(int fd, const Parley__Sfu__ToSfu *q) {
    size_t n = parley__sfu__to_sfu__get_packed_size(q);
    uint8_t *b = malloc(n + 4);
    b[0] = (uint8_t)(n >> 24); b[1] = (uint8_t)(n >> 16); b[2] = (uint8_t)(n >> 8); b[3] = (uint8_t)n;
    parley__sfu__to_sfu__pack(q, b + 4);
    CHECK_EQ_INT(write(fd, b, n + 4), (ssize_t)(n + 4));
    free(b);
}

/* Reads one FromSfu, running `loop` (if any) meanwhile. NULL on EOF/timeout. */
static Parley__Sfu__FromSfu *recv_msg(int fd, uv_loop_t *loop) {
    static uint8_t buf[1 << 20];
    size_t have = 0;
    fcntl(fd, F_SETFL, O_NONBLOCK);
    for (int i = 0; i < 3000; i++) {
        if (loop) uv_run(loop, UV_RUN_NOWAIT);
        ssize_t n = read(fd, buf + have, sizeof buf - have);
        if (n == 0) return NULL;
        if (n > 0) have += (size_t)n;
        if (have >= 4) {
            size_t len = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
            if (have >= 4 + len) return parley__sfu__from_sfu__unpack(NULL, len, buf + 4);
        }
        usleep(1000);
    }
    return NULL;
}

static Parley__Sfu__Response *call(int fd, uv_loop_t *loop, Parley__Sfu__ToSfu *q, Parley__Sfu__FromSfu **holder) {
    send_req(fd, q);
    for (;;) {
        Parley__Sfu__FromSfu *m = recv_msg(fd, loop);
        if (!m) return NULL;
        if (m->msg_case == PARLEY__SFU__FROM_SFU__MSG_RESPONSE) { *holder = m; return m->response; }
        parley__sfu__from_sfu__free_unpacked(m, NULL);
    }
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

TEST(control_in_process) {
    uv_loop_t loop;
    uv_loop_init(&loop);
    sfu_config cfg;
    sfu_config_defaults(&cfg);
    char err[256], path[128];
    snprintf(path, sizeof path, "/tmp/parley-sfu-test-%d.sock", (int)getpid());
    sfu_control *ctl = sfu_control_new(&loop);
    sfu_core *core = sfu_core_new(&loop, &cfg, err, sizeof err);
    CHECK(core && ctl);
    if (!core || !ctl) return;
    CHECK_EQ_INT(sfu_control_listen(ctl, core, path, err, sizeof err), 0);
    int fd = connect_unix(path);
    CHECK(fd >= 0);
    Parley__Sfu__FromSfu *h = NULL;

    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__CreateRoom cr = PARLEY__SFU__CREATE_ROOM__INIT;
    cr.room = 5;
    q.id = 1; q.op_case = PARLEY__SFU__TO_SFU__OP_CREATE_ROOM; q.create_room = &cr;
    Parley__Sfu__Response *r = call(fd, &loop, &q, &h);
    CHECK(r && r->ok && r->id == 1);
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);

    Parley__Sfu__AddParticipant ap = PARLEY__SFU__ADD_PARTICIPANT__INIT;
    ap.room = 5; ap.participant = 11;
    ap.offer_sdp = slurp(SFU_TEST_DATA "/chromium_simulcast_offer.sdp");
    q.id = 2; q.op_case = PARLEY__SFU__TO_SFU__OP_ADD_PARTICIPANT; q.add_participant = &ap;
    r = call(fd, &loop, &q, &h);
    CHECK(r && r->ok);
    if (r && r->ok) {
        CHECK(strstr(r->answer_sdp, "a=ice-lite") != NULL);
        CHECK(strstr(r->answer_sdp, r->ice_ufrag) != NULL);
        CHECK(strstr(r->answer_sdp, r->fingerprint) != NULL);
        CHECK_EQ_STR(r->fingerprint, sfu_core_fingerprint(core));
        CHECK_EQ_INT(strlen(r->ice_pwd), 32);
    }
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);

    /* Bad SDP: error naming it; the participant does not exist afterwards. */
    ap.participant = 12;
    ap.offer_sdp = "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n";
    q.id = 3;
    r = call(fd, &loop, &q, &h);
    CHECK(r && !r->ok && r->error && strlen(r->error) > 0);
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);
    sfu_participant_info info;
    CHECK_EQ_INT(sfu_participant_info_get(core, 12, &info), -1);
    /* Unknown room. */
    ap.room = 99; ap.participant = 13; ap.offer_sdp = slurp(SFU_TEST_DATA "/chromium_simulcast_offer.sdp");
    q.id = 4;
    r = call(fd, &loop, &q, &h);
    CHECK(r && !r->ok);
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);

    Parley__Sfu__GetRoomState rs = PARLEY__SFU__GET_ROOM_STATE__INIT;
    rs.room = 5;
    q.id = 5; q.op_case = PARLEY__SFU__TO_SFU__OP_ROOM_STATE; q.room_state = &rs;
    r = call(fd, &loop, &q, &h);
    CHECK(r && r->ok && r->n_participants == 1 && r->participants[0]->participant == 11);
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);

    Parley__Sfu__Subscribe sb = PARLEY__SFU__SUBSCRIBE__INIT;
    sb.subscriber = 11; sb.publisher = 11; sb.max_height = 720;
    q.id = 6; q.op_case = PARLEY__SFU__TO_SFU__OP_SUBSCRIBE; q.subscribe = &sb;
    r = call(fd, &loop, &q, &h);
    CHECK(r && !r->ok); /* not to oneself */
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);

    /* A frame over the limit closes the connection; the server keeps serving others. */
    uint8_t big[4] = { 0x7f, 0xff, 0xff, 0xff };
    CHECK_EQ_INT(write(fd, big, 4), 4);
    CHECK(recv_msg(fd, &loop) == NULL);
    close(fd);
    fd = connect_unix(path);
    /* Garbage that is not a protobuf closes it too. */
    uint8_t bad[9] = { 0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff };
    CHECK_EQ_INT(write(fd, bad, 9), 9);
    CHECK(recv_msg(fd, &loop) == NULL);
    close(fd);
    fd = connect_unix(path);
    q.id = 7; q.op_case = PARLEY__SFU__TO_SFU__OP_ROOM_STATE; q.room_state = &rs;
    r = call(fd, &loop, &q, &h);
    CHECK(r && r->ok);
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);
    close(fd);
    sfu_control_free(ctl);
    sfu_core_free(core);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    unlink(path);
}

TEST(binary_smoke) {
    char exe[512], bin[600], path[128];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(n > 0);
    if (n <= 0) return;
    exe[n] = 0;
    *strrchr(exe, '/') = 0; /* .../build/tests */
    snprintf(bin, sizeof bin, "%s/../bin/parley-sfu", exe);
    if (access(bin, X_OK) != 0) { fprintf(stderr, "  %s not built\n", bin); CHECK(0); return; }
    snprintf(path, sizeof path, "/tmp/parley-sfu-bin-%d.sock", (int)getpid());
    int out[2];
    CHECK_EQ_INT(pipe(out), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        execl(bin, bin, "--control", path, "--port", "0", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    FILE *f = fdopen(out[0], "r");
    CHECK(fgets(line, sizeof line, f) != NULL);
    CHECK(strncmp(line, "parley-sfu udp 127.0.0.1 ", 25) == 0);
    CHECK(strstr(line, "fingerprint ") != NULL);
    int fd = connect_unix(path);
    CHECK(fd >= 0);
    Parley__Sfu__ToSfu q = PARLEY__SFU__TO_SFU__INIT;
    Parley__Sfu__CreateRoom cr = PARLEY__SFU__CREATE_ROOM__INIT;
    cr.room = 1;
    q.id = 9; q.op_case = PARLEY__SFU__TO_SFU__OP_CREATE_ROOM; q.create_room = &cr;
    Parley__Sfu__FromSfu *h = NULL;
    Parley__Sfu__Response *r = call(fd, NULL, &q, &h);
    CHECK(r && r->ok && r->id == 9);
    if (h) parley__sfu__from_sfu__free_unpacked(h, NULL);
    close(fd);
    kill(pid, SIGTERM);
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    fclose(f);
    unlink(path);
}

/* Runs parley-sfu with args; true if it exited with `code` before printing its ready line.
 * If it ran anyway it is killed, so a regression fails the test instead of hanging it. */
static bool start_fails(const char *const *args, int code) {
    char exe[512], bin[600];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return false;
    exe[n] = 0;
    *strrchr(exe, '/') = 0;
    snprintf(bin, sizeof bin, "%s/../bin/parley-sfu", exe);
    const char *argv[16] = { bin };
    int argc = 1;
    while (args[argc - 1] && argc < 15) { argv[argc] = args[argc - 1]; argc++; }
    int out[2];
    if (pipe(out) < 0) return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(out[1], 1);
        int dn = open("/dev/null", O_WRONLY);
        if (dn >= 0) dup2(dn, 2);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    char line[256] = "";
    FILE *f = fdopen(out[0], "r");
    bool ready = fgets(line, sizeof line, f) != NULL;
    if (ready) kill(pid, SIGKILL);
    int st = 0;
    waitpid(pid, &st, 0);
    fclose(f);
    return !ready && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

/* --capture to a file that cannot be created: a clear failure (exit 1) before the ready line,
 * never an SFU running without the capture the test asked for. */
TEST(binary_capture_unwritable) {
    const char *a[] = { "--port", "0", "--capture", "/nonexistent-dir/x/capture.rtp", NULL };
    CHECK(start_fails(a, 1));
}

/* Bad command lines are refused with the usage text (exit 2), none half-applied. */
TEST(binary_bad_arguments) {
    const char *loss_high[] = { "--port", "0", "--loss", "51", NULL };
    const char *loss_text[] = { "--port", "0", "--loss", "5x", NULL };
    const char *loss_none[] = { "--port", "0", "--loss", NULL };
    const char *port_bad[] = { "--port", "70000", NULL };
    const char *port_text[] = { "--port", "abc", NULL };
    const char *consent_zero[] = { "--port", "0", "--consent-timeout", "0", NULL };
    const char *unknown[] = { "--port", "0", "--frobnicate", "1", NULL };
    CHECK(start_fails(loss_high, 2));
    CHECK(start_fails(loss_text, 2));
    CHECK(start_fails(loss_none, 2));
    CHECK(start_fails(port_bad, 2));
    CHECK(start_fails(port_text, 2));
    CHECK(start_fails(consent_zero, 2));
    CHECK(start_fails(unknown, 2));
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    RUN(control_in_process);
    RUN(binary_smoke);
    RUN(binary_capture_unwritable);
    RUN(binary_bad_arguments);
    return UNIT_DONE("test_sfu_control");
}
