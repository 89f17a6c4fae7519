/*
 * report.h: parley-bench's output: a table for people and, with --json, one JSON object on
 * one line with the same figures (stable keys, numbers in base units: ns, bytes, %, /s).
 * Both only read the result; nothing is allocated.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stdio.h>

#include "run.h"

void report_text(FILE *f, const bench_opts *o, const bench_result *r,
                 const bench_target_ops *ops);
void report_json(FILE *f, const bench_opts *o, const bench_result *r,
                 const bench_target_ops *ops);

#endif
