/* Input files of cjxctl's exchange steps: a CSV file whose header row names
 * the columns, or JSON Lines of the request message (proto3 JSON). Every
 * line is read and checked before the caller sends anything; an error names
 * the file, the line and the column or field. */
#ifndef CJX_CLI_STEP_INPUT_H
#define CJX_CLI_STEP_INPUT_H

#include <protobuf-c/protobuf-c.h>

#include "cjx/arena.h"
#include "cjx/error.h"

/* How a CSV cell is written and checked. */
enum step_cell {
    STEP_TEXT,   /* any text */
    STEP_INT,    /* a decimal integer */
    STEP_NUMBER, /* a decimal number (grams) */
    STEP_BOOL,   /* true/false, yes/no, 1/0 */
    STEP_DATE,   /* YYYY-MM-DD, a real calendar day */
    STEP_ENUM,   /* a value of enum_type: its name, without or with prefix */
};

/* One CSV column: its header name and the field of the request message it
 * fills, as a proto3 JSON path of at most two parts ("key.cii"). */
struct step_column {
    const char *name;
    const char *path;
    enum step_cell cell;
    const ProtobufCEnumDescriptor *enum_type; /* STEP_ENUM */
    int required;                             /* the header must name it */
};

/* A line's message and where it came from. */
struct step_line {
    ProtobufCMessage *msg;
    int line;
};

struct step_input {
    const char *path;
    struct step_line *lines;
    size_t n, cap;
    struct cjx_arena arena; /* every message and string of the input */
};

/* Completes and checks one message read from an input (arg is the
 * caller's): may fill in a request id from the arena, returns 0 or an
 * error whose message names the field. */
typedef int (*step_check_fn)(void *arg, ProtobufCMessage *msg,
                             struct cjx_arena *a, struct cjx_errbuf *eb);

/* Reads path ("-": standard input) as messages of type desc: CSV when its
 * first line is not a JSON object, JSON Lines otherwise. columns
 * (NULL-name-terminated) are the CSV columns the step knows. Each message
 * is then given to check (may be NULL) with arg.
 *
 * Every line is reported (to stderr, "FILE:LINE: ...", at most 20) and
 * counted; returns 0 when every line is good and there is at least one, 1
 * otherwise. in is filled either way; free it with step_input_fini(). */
int step_input_read(struct step_input *in, const char *path,
                    const ProtobufCMessageDescriptor *desc,
                    const struct step_column *columns, step_check_fn check,
                    void *arg);

/* Adds one message made of values given on the command line, one per
 * column of columns (NULL: not given), read and checked as a CSV line
 * would be; errors name "where". in must be empty or filled by
 * step_input_init(). 0, or 1 after reporting the error. */
int step_input_add_values(struct step_input *in, const char *where,
                          const ProtobufCMessageDescriptor *desc,
                          const struct step_column *columns,
                          const char *const *values, step_check_fn check,
                          void *arg);

/* An empty input named path, for step_input_add_values() and
 * step_input_add(). */
void step_input_init(struct step_input *in, const char *path);

/* Adds a message the caller built in in's arena (check is not run). 0 or
 * -1 when out of memory. */
int step_input_add(struct step_input *in, ProtobufCMessage *msg, int line);

void step_input_fini(struct step_input *in);

/* Finds an enum value by its name, with or without the type's prefix, in
 * any case ("dismiss_and_seal", "RELIEF_DISMISS_AND_SEAL"), or by a prefix
 * of its short name that only it has ("dismiss"). 0 and *value, or -1. */
int step_enum_parse(const ProtobufCEnumDescriptor *d, const char *text,
                    int *value);

#endif
