/* Structural checks of incoming record requests, before anything is stored. */
#ifndef CJX_RECORD_CHECK_H
#define CJX_RECORD_CHECK_H

#include "cjx/error.h"
#include "cjx/v1/record_service.pb-c.h"

/* Checks a request id: 1..128 characters of [A-Za-z0-9._:-]. */
int record_check_request_id(const Cjx__V1__RequestMeta *meta,
                            struct cjx_errbuf *eb);

/* Checks what every stored record needs: its key (CII, court case number,
 * count), its county, that every date present is a real date, and that it
 * keeps within the size bounds of record_bounds.h. The
 * detail names the field path and what is wrong. Returns 0 or CJX_EINVAL. */
int record_check_record(const Cjx__V1__ConvictionRecord *rec,
                        struct cjx_errbuf *eb);

/* record_check_record for a record inside a message whose bounds were
 * checked as a whole (record_bounds_check with path "", the record in its
 * field "record"): the same checks but the bounds, which would walk the
 * record a second time and could not fail. */
int record_check_record_in_bounds(const Cjx__V1__ConvictionRecord *rec,
                                  struct cjx_errbuf *eb);

/* Checks a record key as used by GetRecord. */
int record_check_key(const Cjx__V1__RecordKey *key, struct cjx_errbuf *eb);

#endif
