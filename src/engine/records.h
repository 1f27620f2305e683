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

typedef struct clhs_recorder clhs_recorder;

/** The variables of a record, in file order. */
const clhs_out_var *clhs_records_vars(int *nvars);

/** Write the variables as a Markdown table (docs/output.md is generated from it). */
void clhs_records_write_markdown(FILE *out);

int clhs_recorder_create(clhs_recorder **rc, const clhs_world *w, clhs_error *err);
void clhs_recorder_free(clhs_recorder *rc);

/** Form a record of the world as it is now (collective; resets the per-record counters). */
void clhs_record_compute(clhs_recorder *rc, clhs_world *w);

/** Append the formed record to the output (collective). */
int clhs_record_write(clhs_recorder *rc, clhs_output *out, const clhs_world *w, clhs_error *err);

/** Figures of the last record for the summary (valid on rank 0). */
double clhs_record_remission_observed(const clhs_recorder *rc);
int64_t clhs_record_members(const clhs_recorder *rc);
int64_t clhs_record_engaged(const clhs_recorder *rc);
int64_t clhs_record_commons_users(const clhs_recorder *rc);
uint64_t clhs_record_digest(const clhs_recorder *rc);

#endif
