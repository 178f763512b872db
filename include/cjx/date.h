/* Proleptic Gregorian calendar arithmetic on year/month/day dates. */
#ifndef CJX_DATE_H
#define CJX_DATE_H

#include <stdint.h>

/* 1 if year/month/day is a real calendar day with 1 <= year <= 9999. */
int cjx_date_is_valid(int year, int month, int day);

/* Days in the month (1..12) of the year: 28 to 31. */
int cjx_date_days_in_month(int year, int month);

/* Days since 1970-01-01 (negative before). The date must be valid. */
int64_t cjx_date_to_days(int year, int month, int day);

/* The inverse of cjx_date_to_days. */
void cjx_date_from_days(int64_t days, int *year, int *month, int *day);

#endif
