/*
 * pbstrings.h: checks every `string` field of an encoded protobuf message for strict UTF-8
 * without NUL.
 *
 * Why this exists: protobuf-c hands a decoded string field over as a NUL-terminated char*
 * and drops its length, so "ab\0cd" arrives as "ab" and no later check can tell. A password
 * with a NUL would be stored as its prefix. Checking the encoded bytes, where each string's
 * length is still known, closes that for every string field of the schema at once, present
 * and future.
 */
#ifndef PARLEY_PBSTRINGS_H
#define PARLEY_PBSTRINGS_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Walks buf[0..len), an encoding of a message described by desc that protobuf-c already
 * unpacked successfully. Returns NULL if every string field (at any depth) is valid UTF-8
 * without NUL, else the descriptor of the first offending field. Malformed input that slipped
 * through (it cannot, after a successful unpack) is reported as `desc`'s first field, never
 * read out of bounds. */
const ProtobufCFieldDescriptor *pb_find_bad_string(const ProtobufCMessageDescriptor *desc,
                                                   const uint8_t *buf, size_t len);

#endif
