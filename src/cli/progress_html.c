/* The progress report as one HTML page: a table and three inline SVG
 * charts (cases by state per county, each hop's throughput over time, cases
 * past a deadline per county). No script, font or image is loaded from
 * anywhere. */
#include <string.h>

#include "cjx/date.h"
#include "progress.h"

#define DAY_US  (INT64_C(86400) * 1000000)
#define LABEL_W 170
#define BAR_W   600
#define ROW_H   22

static const char *const state_labels[PROGRESS_STATES] = {
    "",           "identified", "notified",       "not challenged",
    "challenged", "ordered",    "history updated"};
static const char *const state_colours[PROGRESS_STATES] = {
    "#999999", "#bdbdbd", "#6baed6", "#31a354",
    "#e6550d", "#756bb1", "#08519c"};
static const char *const hop_labels[PROGRESS_HOPS] = {
    "notice (DOJ to prosecutor)", "review (prosecutor's decision)",
    "order (court)", "history update (DOJ)"};
static const char *const hop_colours[PROGRESS_HOPS] = {"#6baed6", "#e6550d",
                                                       "#756bb1", "#31a354"};

static void
html_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        default:
            fputc(*s, out);
        }
    }
}

static void
legend(FILE *out, int n, const char *const *labels, const char *const *colours,
       int first)
{
    fputs("<p class=\"legend\">", out);
    for (int i = first; i < n; i++) {
        fprintf(out, "<span><i style=\"background:%s\"></i>", colours[i]);
        html_text(out, labels[i]);
        fputs("</span> ", out);
    }
    fputs("</p>\n", out);
}

/* One horizontal stacked bar per county: values[county][part]. */
static void
stacked_bars(FILE *out, const struct progress *p, const char *title,
             long (*value)(const struct progress_county *, int), int parts,
             int first, const char *const *colours)
{
    long max = 1;
    for (int i = 0; i < p->n; i++) {
        long sum = 0;
        for (int k = first; k < parts; k++)
            sum += value(&p->counties[i], k);
        if (sum > max)
            max = sum;
    }
    int h = ROW_H * (p->n > 0 ? p->n : 1) + 10;
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" role=\"img\"><title>",
            LABEL_W + BAR_W + 80, h);
    html_text(out, title);
    fputs("</title>\n", out);
    for (int i = 0; i < p->n; i++) {
        const struct progress_county *c = &p->counties[i];
        int y = i * ROW_H + 4;
        fprintf(out,
                "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" "
                "class=\"county\">",
                LABEL_W - 8, y + 14);
        html_text(out, c->name);
        fputs("</text>\n", out);
        double x = LABEL_W;
        long sum = 0;
        for (int k = first; k < parts; k++) {
            long v = value(c, k);
            double w = (double)v * BAR_W / (double)max;
            sum += v;
            if (v > 0)
                fprintf(out,
                        "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
                        "height=\"%d\" fill=\"%s\"><title>%ld</title></rect>\n",
                        x, y, w, ROW_H - 6, colours[k], v);
            x += w;
        }
        fprintf(out, "<text x=\"%.1f\" y=\"%d\">%ld</text>\n", x + 6, y + 14,
                sum);
    }
    fputs("</svg>\n", out);
}

static long
state_value(const struct progress_county *c, int k)
{
    return c->by_state[k];
}

static long
overdue_value(const struct progress_county *c, int k)
{
    return c->overdue[k];
}

/* Each hop's count per bucket of the period, one line per hop. */
static void
throughput_chart(FILE *out, const struct progress *p)
{
    const int w = 760, h = 240, left = 50, bottom = 30;
    long max = 1;
    for (int k = 0; k < PROGRESS_HOPS; k++)
        for (int b = 0; b < p->n_buckets; b++)
            if (p->throughput[k][b] > max)
                max = p->throughput[k][b];
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" role=\"img\"><title>Each hop's throughput"
            "</title>\n",
            w + left + 50, h + bottom + 10);
    fprintf(out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>"
            "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n",
            left, h + 10, left + w, h + 10, left, left, h + 10);
    fprintf(out,
            "<text x=\"%d\" y=\"18\" text-anchor=\"end\">%ld</text>"
            "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n",
            left - 6, max, left - 6, h + 10);
    int steps = p->n_buckets > 1 ? p->n_buckets - 1 : 1;
    for (int k = 0; k < PROGRESS_HOPS; k++) {
        fprintf(out,
                "<polyline fill=\"none\" stroke-width=\"2.5\" stroke=\"%s\" "
                "points=\"",
                hop_colours[k]);
        for (int b = 0; b < p->n_buckets; b++)
            fprintf(out, "%.1f,%.1f ", left + (double)b * w / steps,
                    h + 10 - (double)p->throughput[k][b] * (h - 10) / max);
        fputs("\"/>\n", out);
    }
    for (int b = 0; b < p->n_buckets; b += (p->n_buckets + 5) / 6) {
        int y, m, d;
        cjx_date_from_days(p->from_us / DAY_US + (int64_t)b * p->bucket_days,
                           &y, &m, &d);
        fprintf(out,
                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">"
                "%04d-%02d-%02d</text>\n",
                left + (double)b * w / steps, h + 28, y, m, d);
    }
    fputs("</svg>\n", out);
}

static void
table(FILE *out, const struct progress *p)
{
    static const char *const head[] = {
        "County",     "Cases",
        "Notified",   "Not challenged",
        "Challenged", "Lapsed",
        "Orders",     "Records updated",
        "Overdue",    "Median days: notice / review / order / history"};
    fputs("<table><tr>", out);
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        fprintf(out, "<th>%s</th>", head[i]);
    fputs("</tr>\n", out);
    for (int i = 0; i < p->n; i++) {
        const struct progress_county *c = &p->counties[i];
        long orders = 0, overdue = 0;
        for (int o = 1; o < PROGRESS_ORDERS; o++)
            orders += c->orders[o];
        for (int h = 0; h < PROGRESS_HOPS; h++)
            overdue += c->overdue[h];
        fputs("<tr><td>", out);
        html_text(out, c->name);
        fprintf(out,
                "</td><td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td>"
                "<td>%ld</td><td>%ld</td><td>%ld</td><td>%ld</td><td>",
                c->cases, c->notified, c->not_challenged, c->challenged,
                c->lapsed, orders, c->records_updated, overdue);
        for (int h = 0; h < PROGRESS_HOPS; h++) {
            int m = progress_median_days(c, (enum progress_hop)h);
            if (m < 0)
                fprintf(out, "%s-", h ? " / " : "");
            else
                fprintf(out, "%s%d", h ? " / " : "", m);
        }
        fputs("</td></tr>\n", out);
    }
    fputs("</table>\n", out);
}

int
progress_write_html(const struct progress *p, const char *title, FILE *out)
{
    char from[16], to[16];
    int y, m, d;
    cjx_date_from_days(p->from_us / DAY_US, &y, &m, &d);
    snprintf(from, sizeof(from), "%04d-%02d-%02d", y, m, d);
    cjx_date_from_days((p->to_us - 1) / DAY_US, &y, &m, &d);
    snprintf(to, sizeof(to), "%04d-%02d-%02d", y, m, d);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>",
          out);
    html_text(out, title);
    fputs("</title>\n<style>\n"
          "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}"
          "\nh1{font-size:22px}h2{font-size:17px;margin-top:28px}"
          "\nsvg text{font-size:12px;fill:#222}"
          "\n.legend span{margin-right:14px;font-size:13px}"
          "\n.legend i{display:inline-block;width:12px;height:12px;"
          "margin-right:4px;vertical-align:middle}"
          "\ntable{border-collapse:collapse;font-size:13px}"
          "\ntd,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
          "\ntd:first-child,th:first-child{text-align:left}\n"
          "</style></head><body>\n<h1>",
          out);
    html_text(out, title);
    fprintf(out,
            "</h1>\n<p>Period %s to %s. Steps are counted when taken in the "
            "period; deadlines are judged at its end.</p>\n",
            from, to);
    fputs("<h2>Cases by state, per county</h2>\n", out);
    legend(out, PROGRESS_STATES, state_labels, state_colours, 1);
    stacked_bars(out, p, "Cases by state, per county", state_value,
                 PROGRESS_STATES, 1, state_colours);
    fprintf(out, "<h2>Each hop's throughput (cases per %d days)</h2>\n",
            p->bucket_days);
    legend(out, PROGRESS_HOPS, hop_labels, hop_colours, 0);
    throughput_chart(out, p);
    fputs("<h2>Cases past a deadline, per county</h2>\n", out);
    legend(out, PROGRESS_HOPS, hop_labels, hop_colours, 0);
    stacked_bars(out, p, "Cases past a deadline, per county", overdue_value,
                 PROGRESS_HOPS, 0, hop_colours);
    fputs("<h2>Numbers</h2>\n", out);
    table(out, p);
    fputs("</body></html>\n", out);
    return ferror(out) ? -1 : 0;
}
