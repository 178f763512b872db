/* Field-level checks shared by the record handlers. */
#include "record_check.h"

#include <string.h>

#include "cjx/date.h"
#include "record_bounds.h"

static int
is_id_char(char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
           (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' ||
           ch == '-';
}

int
record_check_request_id(const Cjx__V1__RequestMeta *meta, struct cjx_errbuf *eb)
{
    if (meta == NULL || meta->request_id[0] == '\0')
        return cjx_errf(eb, CJX_EINVAL, "meta.request_id: required");
    size_t n = strlen(meta->request_id);
    if (n > 128)
        return cjx_errf(eb, CJX_EINVAL,
                        "meta.request_id: longer than 128 characters");
    for (size_t i = 0; i < n; i++) {
        if (!is_id_char(meta->request_id[i]))
            return cjx_errf(eb, CJX_EINVAL,
                            "meta.request_id: character %zu is not one of "
                            "[A-Za-z0-9._:-]",
                            i + 1);
    }
    return 0;
}

/* A required text field: non-empty, printable, at most max bytes. */
static int
check_text(const char *path, const char *value, size_t max,
           struct cjx_errbuf *eb)
{
    if (value == NULL || value[0] == '\0')
        return cjx_errf(eb, CJX_EINVAL, "%s: required", path);
    size_t n = strlen(value);
    if (n > max)
        return cjx_errf(eb, CJX_EINVAL, "%s: longer than %zu characters", path,
                        max);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)value[i] < 0x20)
            return cjx_errf(eb, CJX_EINVAL, "%s: contains a control character",
                            path);
    }
    return 0;
}

static int
check_cii(const char *path, const char *cii, struct cjx_errbuf *eb)
{
    int err = check_text(path, cii, 16, eb);
    if (err != 0)
        return err;
    for (const char *p = cii; *p != '\0'; p++) {
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return cjx_errf(eb, CJX_EINVAL,
                            "%s: only capital letters and digits allowed",
                            path);
    }
    return 0;
}

static int
check_count(const char *path, int32_t count, struct cjx_errbuf *eb)
{
    if (count < 1 || count > 999)
        return cjx_errf(eb, CJX_EINVAL, "%s: must be 1..999, got %d", path,
                        (int)count);
    return 0;
}

/* An optional date: absent (NULL or year 0) or a real calendar day. */
static int
check_date(const char *path, const Cjx__V1__Date *d, struct cjx_errbuf *eb)
{
    if (d == NULL || (d->year == 0 && d->month == 0 && d->day == 0))
        return 0;
    if (!cjx_date_is_valid(d->year, d->month, d->day))
        return cjx_errf(eb, CJX_EINVAL, "%s: %04d-%02d-%02d is not a date",
                        path, (int)d->year, (int)d->month, (int)d->day);
    return 0;
}

/* The record checks, with its bounds when bounded is set (the caller has
 * not walked the message holding it through them already). */
static int
check_record(const Cjx__V1__ConvictionRecord *rec, int bounded,
             struct cjx_errbuf *eb)
{
    if (rec == NULL)
        return cjx_errf(eb, CJX_EINVAL, "record: required");
    if (rec->subject == NULL)
        return cjx_errf(eb, CJX_EINVAL, "record.subject: required");
    int err = bounded ? record_bounds_check(&rec->base, "record", eb) : 0;
    if (err != 0)
        return err;
    if ((err = check_cii("record.subject.cii", rec->subject->cii, eb)) != 0 ||
        (err = check_text("record.court_case_number", rec->court_case_number,
                          64, eb)) != 0 ||
        (err = check_count("record.count_number", rec->count_number, eb)) !=
            0 ||
        (err = check_text("record.county", rec->county, 64, eb)) != 0 ||
        (err = check_date("record.subject.date_of_birth",
                          rec->subject->date_of_birth, eb)) != 0 ||
        (err = check_date("record.offense_date", rec->offense_date, eb)) != 0 ||
        (err = check_date("record.conviction_date", rec->conviction_date,
                          eb)) != 0)
        return err;
    return 0;
}

int
record_check_record(const Cjx__V1__ConvictionRecord *rec, struct cjx_errbuf *eb)
{
    return check_record(rec, 1, eb);
}

int
record_check_record_in_bounds(const Cjx__V1__ConvictionRecord *rec,
                              struct cjx_errbuf *eb)
{
    return check_record(rec, 0, eb);
}

int
record_check_key(const Cjx__V1__RecordKey *key, struct cjx_errbuf *eb)
{
    if (key == NULL)
        return cjx_errf(eb, CJX_EINVAL, "key: required");
    int err;
    if ((err = check_cii("key.cii", key->cii, eb)) != 0 ||
        (err = check_text("key.court_case_number", key->court_case_number, 64,
                          eb)) != 0 ||
        (err = check_count("key.count_number", key->count_number, eb)) != 0)
        return err;
    return 0;
}
