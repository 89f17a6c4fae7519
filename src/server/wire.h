/*
 * wire.h: converts the store's plain C structs into protobuf-c messages (parley.proto) and
 * packs server frames. The store knows nothing of the wire; this is the only translation.
 *
 * Memory: every message built here is allocated from a wire_arena and freed all at once
 * with wire_arena_free(). Strings are NOT copied: they point into the store structs they
 * came from, so those must outlive the arena's use (pack, then free the arena, then the
 * store structs). Used on the network thread only.
 */
#ifndef PARLEY_WIRE_H
#define PARLEY_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "parley.pb-c.h"
#include "store.h"

typedef struct wire_block wire_block;
typedef struct {
    wire_block *head;
    int failed;                /* an allocation failed: discard what was built */
} wire_arena;

void wire_arena_init(wire_arena *a);
void wire_arena_free(wire_arena *a);
/* Zeroed memory; NULL (and a->failed set) if out of memory. */
void *wire_alloc(wire_arena *a, size_t size);

/* `viewer` is the account the message goes to: random_id is shown only to the sender. */
Parley__Message *wire_message(wire_arena *a, const store_msg *m, int64_t viewer);
Parley__Chat *wire_chat(wire_arena *a, const store_chat *c, int64_t viewer);
Parley__User *wire_user(wire_arena *a, int64_t id, const char *username);
Parley__Member *wire_member(wire_arena *a, const store_member *m);
Parley__SessionInfo *wire_session(wire_arena *a, const store_session *s, int64_t current);
/* pts overrides u->pts (fan-outs carry pts per account). */
Parley__Update *wire_update(wire_arena *a, const store_update *u, uint64_t pts, int64_t viewer);
Parley__Error *wire_error(wire_arena *a, Parley__ErrorCode code, const char *message,
                          uint32_t retry_after);

/* Packs a ServerFrame into malloc'd memory with `headroom` free bytes before it (for
 * LWS_PRE). Returns the buffer (caller frees) and the frame length in *len, or NULL. */
uint8_t *wire_pack(const Parley__ServerFrame *f, size_t headroom, size_t *len);

/* Maps a store result onto the wire error it means for a client. */
Parley__ErrorCode wire_store_error(store_rc rc);

#endif
