/*
 * fuzz_srv_dispatch.c: libFuzzer target for dispatch_frame() on a logged-in connection:
 * every request type's decoding, auth gate, validation, handler, store job (a real SQLite
 * store on the store thread) and answer, with a second account online to receive the
 * pushes. The server is tests/fuzz/srv_harness.c: all of parleyd's modules but the socket
 * layer (see srv_harness.h for why that seam).
 *
 * Input: up to 16 frames, each as a 2-byte little-endian length and that many bytes (the
 * last one takes what is left), sent in order on account "fuzza"'s connection; each frame
 * is settled (its store and Argon2 jobs complete) before the next. The world the seeds
 * (tests/fuzz/corpus/srv_dispatch/, made by tests/fuzz/gen_srv_corpus.py) refer to is
 * fixed: users 1 "fuzza" and 2 "fuzzb", chat 1 (their private chat), chat 2 (a group).
 *
 * Checks beyond memory safety, leaks and UB: every frame the server queues decodes as a
 * ServerFrame; a request that decodes, on a connection not closing, gets exactly one
 * Response with its id, or the connection says Goodbye; no request hangs (srv_h_settle).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "networking.h"
#include "srv_harness.h"

#define MAX_FRAMES 16

static conn *alice, *bob;

static void ensure_conns(srv_h *h)
{
    if (alice && (alice->state == CONN_CLOSING || !alice->user_id)) {
        net_conn_close(h->srv, alice);
        alice = NULL;
    }
    if (bob && (bob->state == CONN_CLOSING || !bob->user_id)) {
        net_conn_close(h->srv, bob);
        bob = NULL;
    }
    if (!alice) alice = srv_h_login(h, 0);
    if (!bob) bob = srv_h_login(h, 1);
    if (!alice || !bob) {
        fprintf(stderr, "fuzz_srv_dispatch: the fuzz accounts can no longer log in\n");
        abort();
    }
}

static void one_frame(srv_h *h, const uint8_t *p, size_t n)
{
    if (alice->state == CONN_CLOSING) return;
    Parley__ClientFrame *f = parley__client_frame__unpack(NULL, n, p);
    uint64_t id = f ? f->id : 0;
    if (f) parley__client_frame__free_unpacked(f, NULL);
    srv_h_dispatch(h, alice, p, n);
    unsigned answers = 0, goodbyes = 0;
    srv_h_drain(alice, id, &answers, &goodbyes);
    if (f && !goodbyes && answers != 1) {
        fprintf(stderr, "fuzz_srv_dispatch: request %llu got %u answers\n",
                (unsigned long long)id, answers);
        abort();
    }
    srv_h_drain_all(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    srv_h *h = srv_h_get();
    ensure_conns(h);
    size_t off = 0;
    for (int i = 0; i < MAX_FRAMES && off + 2 <= size; i++) {
        size_t n = (size_t)data[off] | (size_t)data[off + 1] << 8;
        off += 2;
        if (n > size - off) n = size - off;
        one_frame(h, data + off, n);
        off += n;
    }
    return 0;
}
