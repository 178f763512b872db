/* Size bounds of what a peer may send: every string and every repeated field
 * of a record, a candidate notice or any other case message.
 *
 * A message that passes the bounds packs to a known, small size, so a page
 * of records or cases, or a change-feed message, always fits the message
 * size limit whatever another agency sent (docs/operations.md, "Record
 * bounds", lists the same numbers). Fields not named in the table get the
 * defaults below. */
#ifndef CJX_RECORD_BOUNDS_H
#define CJX_RECORD_BOUNDS_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "cjx/error.h"

/* A string or bytes field not named in the table: at most this many bytes. */
#define RECORD_BOUNDS_TEXT_DEFAULT 256
/* A repeated field not named in the table: at most this many entries. */
#define RECORD_BOUNDS_REPEATED_DEFAULT 64

/* The largest record the bounds allow packs to no more than this (the unit
 * test fills every field to its bound and measures). A daemon's message
 * size limit is at least twice this, so a page always holds a record. */
#define RECORD_BOUNDS_RECORD_PACKED_MAX (32 * 1024)

/* The largest value field f of message type d may hold: bytes for a string
 * or bytes field (each entry of a repeated one), entries for a repeated
 * field (returned through *entries; 0 when f is not repeated). */
size_t record_bounds_text_max(const ProtobufCMessageDescriptor *d,
                              const ProtobufCFieldDescriptor *f);
size_t record_bounds_entries_max(const ProtobufCMessageDescriptor *d,
                                 const ProtobufCFieldDescriptor *f);

/* Checks msg and every message inside it against the bounds. path names msg
 * in the detail ("record"; "" for a top-level request), which then names
 * the field and its index: "record.sentence: more than 32 entries (33)",
 * "history.events[4].statute.description: longer than 512 bytes".
 * Returns 0 or CJX_EINVAL; changes nothing. */
int record_bounds_check(const ProtobufCMessage *msg, const char *path,
                        struct cjx_errbuf *eb);

#endif
