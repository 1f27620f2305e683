/*
 * Private to the engine: the /timeseries variables (MODEL.md §11) and how one record of
 * them is formed from the world.
 */
#ifndef CLHS_ENGINE_RECORDS_H
#define CLHS_ENGINE_RECORDS_H

#include <stdint.h>
#include <stdio.h>

#include "clhs/model.h"
#include "clhs/output.h"

/** This run's records: one record of every variable, formed from the world (clhs_records_*
 * is the one prefix of this module). */
typedef struct clhs_records clhs_records;

/** The variables of a record, in file order. */
const clhs_out_var *clhs_records_vars(int *nvars);

/** Write the variables as a Markdown table (docs/output.md is generated from it). */
void clhs_records_write_markdown(FILE *out);

int clhs_records_create(clhs_records **rc, const clhs_world *w, clhs_error *err);
void clhs_records_free(clhs_records *rc);

/** Form a record of the world as it is now (collective; resets the per-record counters). */
void clhs_records_compute(clhs_records *rc, clhs_world *w);

/** Append the formed record to the output (collective). */
int clhs_records_write(clhs_records *rc, clhs_output *out, const clhs_world *w, clhs_error *err);

/** Figures of the last record for the summary (valid on rank 0). */
double clhs_records_remission_observed(const clhs_records *rc);
int64_t clhs_records_members(const clhs_records *rc);
int64_t clhs_records_engaged(const clhs_records *rc);
int64_t clhs_records_commons_users(const clhs_records *rc);
uint64_t clhs_records_digest(const clhs_records *rc);

#endif
