/* Shared pieces of cjxctl: options, connection, output. */
#ifndef CJX_CLI_H
#define CJX_CLI_H

#include <stdio.h>

#include "cjx/client.h"
#include "cjx/v1/conviction.pb-c.h"

struct cli {
    const char *socket; /* local API socket */
    const char *remote; /* host:port of a remote daemon, or NULL */
    const char *ca, *cert, *key;
    int json; /* machine-readable output */
    int timeout_ms;
    struct cjx_client *client;
};

/* Connects as the options say; prints the reason and returns non-zero on
 * failure. */
int cli_connect(struct cli *cli);

/* Prints "cjxctl: CODE: message" for a failed call and returns the exit
 * status for it (1). */
int cli_report_status(const char *what, const struct cjx_client_status *st);

/* How cli_follow prints a stream for a person (--json prints each message
 * as a line of JSON instead). */
struct cli_follow_view {
    void (*header)(void);                      /* the column headings */
    void (*line)(const ProtobufCMessage *msg); /* one message */
};

/* Connects, opens the server stream m with req and prints every message as
 * view says until the stream ends, flushing each so that a pipe sees it at
 * once. stream names what is read in "cannot open STREAM"; call names the
 * method in a failed status. Returns the exit status. */
int cli_follow(struct cli *cli, const struct cjx_method *m,
               const ProtobufCMessage *req, const char *stream,
               const char *call, const struct cli_follow_view *view);

/* Reads a whole file ("-" = standard input) into a new buffer (free()), or
 * NULL if it cannot be read. */
char *cli_read_file(const char *path, size_t *len);

/* Reads the YYYY-MM-DD of an --as-of option into out. 0, or 2 (the exit
 * status of a usage error) after printing what the option wants. */
int cli_parse_as_of(const char *arg, Cjx__V1__Date *out);

/* A time for a table cell: us as UTC text, or "-" for 0 (not yet, never). */
void cli_format_time(int64_t us, char *buf, size_t len);

/* Prints msg as one line of JSON (--json) to out. */
void cli_print_json_line(FILE *out, const ProtobufCMessage *msg);

/* How a statute reads for a person: its normalized form, else code, section
 * and subsection, else the raw text. Returns st's memory or buf. */
const char *cli_statute_text(const Cjx__V1__Statute *st, char *buf, size_t len);

/* "OFFENSE_LEVEL_FELONY" -> "FELONY": an enum value's name less its type's
 * prefix; "?" for a number the type does not have. */
const char *cli_enum_short(const ProtobufCEnumDescriptor *d, int value);

/* A left-aligned text table with a header row, sized to its contents. */
struct cli_table;
struct cli_table *cli_table_new(int ncols, const char *const *headers);
void cli_table_add(struct cli_table *t, const char *const *cells);
void cli_table_print(struct cli_table *t, FILE *out);
void cli_table_free(struct cli_table *t);

/* The commands; argv[0] is the command name. Each returns the exit status. */
int cmd_submit(struct cli *cli, int argc, char **argv);
int cmd_get(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_watch(struct cli *cli, int argc, char **argv);
int cmd_health(struct cli *cli, int argc, char **argv);
int cmd_eval(struct cli *cli, int argc, char **argv);
int cmd_audit(struct cli *cli, int argc, char **argv);
int cmd_cases(struct cli *cli, int argc, char **argv);
int cmd_case(struct cli *cli, int argc, char **argv);
int cmd_notify(struct cli *cli, int argc, char **argv);
int cmd_outbox(struct cli *cli, int argc, char **argv);
int cmd_decide(struct cli *cli, int argc, char **argv);
int cmd_order(struct cli *cli, int argc, char **argv);
int cmd_ack(struct cli *cli, int argc, char **argv);
int cmd_notify_person(struct cli *cli, int argc, char **argv);
int cmd_review(struct cli *cli, int argc, char **argv);
int cmd_report(struct cli *cli, int argc, char **argv);
int cmd_status(struct cli *cli, int argc, char **argv);

#endif
