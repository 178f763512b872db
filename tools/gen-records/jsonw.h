/* proto3 JSON mapping writer used by the record generator. */
#ifndef CJX_JSONW_H
#define CJX_JSONW_H

#include <protobuf-c/protobuf-c.h>
#include <stdio.h>

enum { JSONW_DATES_AS_STRINGS = 1 };

/* Writes m as one line of proto3 JSON (no newline). */
void jsonw_message(FILE *f, const ProtobufCMessage *m, int flags);

#endif
