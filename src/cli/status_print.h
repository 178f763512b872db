/* The screen of `cjxctl status`, from a cjx.v1.DaemonStatus. */
#ifndef CJX_CLI_STATUS_PRINT_H
#define CJX_CLI_STATUS_PRINT_H

#include <stdio.h>

#include "cjx/v1/status.pb-c.h"

/* Certificates and CRLs this close to expiry are marked with a warning. */
#define STATUS_EXPIRY_WARN_DAYS 30

/* Writes the screen to out. Every age and remaining time is reckoned from
 * st->now_unix_us (the daemon's clock), so the same message always prints
 * the same text. Returns the number of warnings printed (an expiry within
 * STATUS_EXPIRY_WARN_DAYS, a peer not reached, a parked hand-off). */
int status_print(FILE *out, const Cjx__V1__DaemonStatus *st);

#endif
