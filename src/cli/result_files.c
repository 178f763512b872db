/* Per-county result files: a CSV row per count as it is evaluated, and a
 * JSON summary per county written at the end. Only the open files and one
 * tally per county are held, whatever the number of counts. */
#include "result_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define MAX_COUNTIES 64
#define N_RELIEF     8

/* The CSV header; docs/result-files.md says what each column holds. */
static const char header[] =
    "subject_id,cii,last_name,first_name,date_of_birth,county,court_ori,"
    "court_case_number,count_number,charge,charge_as_recorded,level,"
    "offense_date,conviction_date,relief,floor,ceiling,procedure,"
    "reason_codes,citations,missing_facts,flags,decision_id,rule_set,"
    "rule_set_version,error\n";

struct county_file {
    char name[96];
    char path[4200];
    FILE *csv;
    long counts, errors;
    long by_relief[N_RELIEF];
    long human_review_missing; /* HUMAN_REVIEW counts naming missing facts */
};

struct result_files {
    char dir[4000];
    struct county_file counties[MAX_COUNTIES];
    int n;
};

struct result_files *
result_files_open(const char *dir)
{
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "cjxctl: %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    struct result_files *rf = calloc(1, sizeof(*rf));
    if (rf == NULL || strlen(dir) >= sizeof(rf->dir)) {
        fprintf(stderr, "cjxctl: %s: cannot write results there\n", dir);
        free(rf);
        return NULL;
    }
    snprintf(rf->dir, sizeof(rf->dir), "%s", dir);
    return rf;
}

/* "San Luis Obispo" -> "San_Luis_Obispo": a file name of letters, digits,
 * '-' and '_' only, so that no county name can leave the directory. */
static void
file_stem(const char *county, char *out, size_t len)
{
    size_t k = 0;
    for (const char *c = county; *c && k + 1 < len; c++) {
        int ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
                 (*c >= '0' && *c <= '9') || *c == '-';
        out[k++] = ok ? *c : '_';
    }
    if (k == 0)
        k = (size_t)snprintf(out, len, "no_county");
    out[k] = '\0';
}

static struct county_file *
county_file(struct result_files *rf, const char *county)
{
    for (int i = 0; i < rf->n; i++)
        if (strcmp(rf->counties[i].name, county) == 0)
            return &rf->counties[i];
    if (rf->n == MAX_COUNTIES) {
        fprintf(stderr, "cjxctl: more than %d counties\n", MAX_COUNTIES);
        return NULL;
    }
    struct county_file *cf = &rf->counties[rf->n];
    char stem[96];
    snprintf(cf->name, sizeof(cf->name), "%s", county);
    file_stem(county, stem, sizeof(stem));
    char path[sizeof(cf->path)];
    snprintf(path, sizeof(path), "%s/%s.csv", rf->dir, stem);
    memcpy(cf->path, path, sizeof(path));
    cf->csv = fopen(cf->path, "w");
    if (cf->csv == NULL) {
        fprintf(stderr, "cjxctl: %s: %s\n", cf->path, strerror(errno));
        return NULL;
    }
    fputs(header, cf->csv);
    rf->n++;
    return cf;
}

/* One CSV field, quoted when it holds a comma, quote or line end. */
static void
csv_field(FILE *f, const char *s, int last)
{
    if (s == NULL)
        s = "";
    if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void
csv_list(FILE *f, char **items, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    char *joined = malloc(len);
    if (joined == NULL) {
        csv_field(f, "", 0);
        return;
    }
    joined[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            strcat(joined, ";");
        strcat(joined, items[i]);
    }
    csv_field(f, joined, 0);
    free(joined);
}

static const char *
date_text(const Cjx__V1__Date *d, char *buf, size_t len)
{
    if (d == NULL || d->year == 0)
        return "";
    snprintf(buf, len, "%04d-%02d-%02d", d->year, d->month, d->day);
    return buf;
}

int
result_files_add(struct result_files *rf, const Cjx__V1__ReliefQuery *q,
                 const Cjx__V1__EvaluateResponse *resp, const char *error)
{
    const Cjx__V1__ConvictionRecord *r = q->record;
    const Cjx__V1__Person *p = r->subject;
    struct county_file *cf = county_file(rf, r->county);
    if (cf == NULL)
        return -1;
    FILE *f = cf->csv;
    char num[16], dob[16], off[16], conv[16], st[128];
    snprintf(num, sizeof(num), "%d", r->count_number);
    csv_field(f, p->doj_subject_id, 0);
    csv_field(f, p->cii, 0);
    csv_field(f, p->last_name, 0);
    csv_field(f, p->first_name, 0);
    csv_field(f, date_text(p->date_of_birth, dob, sizeof(dob)), 0);
    csv_field(f, r->county, 0);
    csv_field(f, r->court_ori, 0);
    csv_field(f, r->court_case_number, 0);
    csv_field(f, num, 0);
    csv_field(f, cli_statute_text(r->charge, st, sizeof(st)), 0);
    csv_field(f, r->charge ? r->charge->code_raw : "", 0);
    csv_field(f,
              cli_enum_short(&cjx__v1__offense_level__descriptor,
                             r->level ? r->level : r->charge_level),
              0);
    csv_field(f, date_text(r->offense_date, off, sizeof(off)), 0);
    csv_field(f, date_text(r->conviction_date, conv, sizeof(conv)), 0);
    cf->counts++;
    if (resp == NULL) {
        for (int i = 0; i < 11; i++)
            csv_field(f, "", 0);
        csv_field(f, error, 1);
        cf->errors++;
        return ferror(f) ? -1 : 0;
    }
    const Cjx__V1__Determination *d = resp->determination;
    csv_field(f, cli_enum_short(&cjx__v1__relief__descriptor, d->relief), 0);
    /* Floor and ceiling bound a review; a settled count has neither. */
    int review = d->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW;
    csv_field(
        f, review ? cli_enum_short(&cjx__v1__relief__descriptor, d->floor) : "",
        0);
    csv_field(f,
              review ? cli_enum_short(&cjx__v1__relief__descriptor, d->ceiling)
                     : "",
              0);
    csv_field(f, cli_enum_short(&cjx__v1__procedure__descriptor, d->procedure),
              0);
    csv_list(f, d->reason_codes, d->n_reason_codes);
    csv_list(f, d->citations, d->n_citations);
    csv_list(f, d->missing_facts, d->n_missing_facts);
    csv_list(f, d->flags, d->n_flags);
    csv_field(f, d->decision_id, 0);
    csv_field(f, d->rule_set, 0);
    csv_field(f, d->rule_set_version, 0);
    csv_field(f, "", 1);
    if (d->relief >= 0 && d->relief < N_RELIEF)
        cf->by_relief[d->relief]++;
    if (d->relief == CJX__V1__RELIEF__RELIEF_HUMAN_REVIEW &&
        d->n_missing_facts > 0)
        cf->human_review_missing++;
    return ferror(f) ? -1 : 0;
}

/* The county's summary: counts by relief, as one JSON object. */
static int
summary_write(const struct result_files *rf, const struct county_file *cf)
{
    char stem[96], path[4200];
    file_stem(cf->name, stem, sizeof(stem));
    snprintf(path, sizeof(path), "%s/%s.summary.json", rf->dir, stem);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "cjxctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    /* County names come from the registry's alphabet (letters and
     * spaces); escape the two characters JSON cannot hold as they are. */
    fputs("{\"county\": \"", f);
    for (const char *c = cf->name; *c; c++)
        fprintf(f, (*c == '"' || *c == '\\') ? "\\%c" : "%c", *c);
    fprintf(f, "\", \"counts\": %ld, \"errors\": %ld, \"by_relief\": {",
            cf->counts, cf->errors);
    int first = 1;
    for (int i = 1; i < N_RELIEF; i++) {
        if (cf->by_relief[i] == 0)
            continue;
        fprintf(f, "%s\"%s\": %ld", first ? "" : ", ",
                cli_enum_short(&cjx__v1__relief__descriptor, i),
                cf->by_relief[i]);
        first = 0;
    }
    fprintf(f, "}, \"human_review_with_missing_facts\": %ld}\n",
            cf->human_review_missing);
    return fclose(f) == 0 ? 0 : -1;
}

int
result_files_close(struct result_files *rf)
{
    if (rf == NULL)
        return 0;
    int rc = 0;
    for (int i = 0; i < rf->n; i++) {
        struct county_file *cf = &rf->counties[i];
        if (fclose(cf->csv) != 0) {
            fprintf(stderr, "cjxctl: %s: %s\n", cf->path, strerror(errno));
            rc = -1;
        }
        if (summary_write(rf, cf) != 0)
            rc = -1;
    }
    free(rf);
    return rc;
}
