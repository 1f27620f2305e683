/*
 * The table of the world's arrays (include/clhs/fields.h) and what is driven from it
 * alone: allocation, freeing, bytes, the checkpoint's rows, the table's own checks and the
 * layout documentation. The digest's folds are in stats.c, the checkpoint's datasets in
 * src/io/checkpoint.c (state_columns).
 */
#include "clhs/fields.h"

#include <stdlib.h>
#include <string.h>

#include "clhs/model.h"

#define DESCRIBE(name, ctype, entity, per, vtype, role, dig, arg, unit, meaning)                   \
  {#name,                                                                                          \
   #ctype,                                                                                         \
   offsetof(clhs_world, name),                                                                     \
   sizeof(ctype),                                                                                  \
   1,                                                                                              \
   CLHS_E_##entity,                                                                                \
   CLHS_PER_##per,                                                                                 \
   CLHS_VT_##vtype,                                                                                \
   CLHS_ROLE_##role,                                                                               \
   CLHS_DIG_##dig,                                                                                 \
   arg,                                                                                            \
   unit,                                                                                           \
   meaning},

const clhs_field clhs_fields[CLHS_NFIELDS] = {
    CLHS_WORLD_FIELDS(DESCRIBE)
    /* The one row whose member is an array of arrays. */
    {"first", "int32_t", offsetof(clhs_world, first), sizeof(int32_t), CLHS_NTYPES + 1,
     CLHS_E_BOUND, CLHS_PER_1, CLHS_VT_I32, CLHS_ROLE_STRUCTURE, CLHS_DIG_NO, 0, "agent index",
     "CLHS_NTYPES + 1 arrays: first[t][c] is the local index of centre c's first agent of type t; "
     "first[CLHS_NTYPES][c] is the centre's end"}};

/* Bytes of one value of each element type, at compile time for the checks below. */
#define VT_SIZE_U8 1
#define VT_SIZE_U16 2
#define VT_SIZE_U32 4
#define VT_SIZE_U64 8
#define VT_SIZE_I32 4
#define VT_SIZE_I64 8
#define VT_SIZE_F32 4
#define VT_SIZE_F64 8
#define VT_SIZE_NONE 1
#define ASSERT_ROW(name, ctype, entity, per, vtype, ...)                                           \
  _Static_assert(sizeof(ctype) % VT_SIZE_##vtype == 0,                                             \
                 "row " #name ": its C type is not a whole number of " #vtype);
CLHS_WORLD_FIELDS(ASSERT_ROW)

static const size_t vt_size[CLHS_NVTYPES] = {VT_SIZE_U8,  VT_SIZE_U16, VT_SIZE_U32,
                                             VT_SIZE_U64, VT_SIZE_I32, VT_SIZE_I64,
                                             VT_SIZE_F32, VT_SIZE_F64, VT_SIZE_NONE};
static const char *const vt_name[CLHS_NVTYPES] = {"uint8", "uint16",  "uint32",  "uint64", "int32",
                                                  "int64", "float32", "float64", "opaque"};

const clhs_entity_info clhs_entities[CLHS_NENTITIES] = {
    [CLHS_E_AGENT] = {"agent", "`n`", "agents", "global agent id [nagents]", 0},
    [CLHS_E_PATIENT] = {"patient", "`npat`", "patients",
                        "network-wide patient index, centre by centre [npatients]", 0},
    [CLHS_E_CLIN] = {"clinician", "`nclin`", "staff",
                     "network-wide clinician index, centre by centre [clinicians]", 0},
    [CLHS_E_QIS] = {"QIS", "`nqis`", "staff",
                    "network-wide improvement-specialist index, centre by centre [QIS]", 0},
    [CLHS_E_FAM] = {"caregiver", "`fam_begin[c_count]`", NULL, NULL, 0},
    [CLHS_E_CENTRE] = {"centre", "`c_count`", "centres", "centre index [ncentres]", 0},
    [CLHS_E_BOUND] = {"centre bound", "`c_count + 1`", NULL, NULL, 0},
    [CLHS_E_RANK_BOUND] = {"rank bound", "ranks + 1, on every rank", NULL, NULL, 1}};

size_t clhs_vtype_size(int vtype) {
  return vt_size[vtype];
}

int64_t clhs_field_per(const clhs_field *f, int64_t held_max) {
  switch (f->per) {
  case CLHS_PER_NEEDS: return CLHS_NEEDS;
  case CLHS_PER_HELD: return held_max;
  default: return 1;
  }
}

int64_t clhs_field_values(const clhs_field *f, int64_t held_max) {
  return clhs_field_per(f, held_max) * (int64_t)(f->size / vt_size[f->vtype]);
}

int clhs_field_stored(const clhs_field *f) {
  return f->role == CLHS_ROLE_STATE || f->role == CLHS_ROLE_CHECKED;
}

int64_t clhs_entity_count(const clhs_world *w, int entity) {
  switch (entity) {
  case CLHS_E_AGENT: return w->n;
  case CLHS_E_PATIENT: return w->npat;
  case CLHS_E_CLIN: return w->nclin;
  case CLHS_E_QIS: return w->nqis;
  case CLHS_E_FAM: return w->fam_begin ? w->fam_begin[w->c_count] : 0;
  case CLHS_E_CENTRE: return w->c_count;
  case CLHS_E_BOUND: return w->c_count + 1;
  default: return w->comm->size + 1;
  }
}

void clhs_entity_rows(const clhs_world *w, int entity, int64_t *rows, int64_t *row0,
                      int64_t *nloc) {
  const int64_t C = w->ncentres, cb = w->c_begin;
  /* Patients, clinicians and QIS are numbered centre by centre: this rank's are a block. */
  *rows = *row0 = *nloc = 0;
  switch (entity) {
  case CLHS_E_AGENT:
    *rows = w->nagents;
    *row0 = w->gid_begin;
    *nloc = w->n;
    break;
  case CLHS_E_PATIENT:
    *rows = w->npatients;
    *row0 = w->pat_row0;
    *nloc = w->npat;
    break;
  case CLHS_E_CLIN:
    *rows = w->nclin_total;
    *row0 = w->clin_row0;
    *nloc = w->nclin;
    break;
  case CLHS_E_QIS:
    *rows = w->nqis_total;
    *row0 = w->qis_row0;
    *nloc = w->nqis;
    break;
  case CLHS_E_CENTRE:
    *rows = C;
    *row0 = cb;
    *nloc = w->c_count;
    break;
  default: break; /* not stored */
  }
}

/* The member is a pointer of the row's type; it is read and written as its bytes. */
void *clhs_field_array(const clhs_world *w, const clhs_field *f, int k) {
  void *p;
  memcpy(&p, (const char *)w + f->offset + (size_t)k * sizeof p, sizeof p);
  return p;
}

static void set_array(clhs_world *w, const clhs_field *f, int k, void *p) {
  memcpy((char *)w + f->offset + (size_t)k * sizeof p, &p, sizeof p);
}

int64_t clhs_field_elems(const clhs_world *w, const clhs_field *f) {
  return clhs_entity_count(w, f->entity) * clhs_field_per(f, w->cfg->resources.held_max);
}

int clhs_fields_alloc(clhs_world *w, int entity, clhs_error *err) {
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    if (f->entity != entity || f->role == CLHS_ROLE_OWNED) continue;
    const int64_t n = clhs_field_elems(w, f);
    char what[96];
    snprintf(what, sizeof what, "the world's array %s (one per %s)", f->name,
             clhs_entities[entity].name);
    for (int k = 0; k < f->narrays; k++) {
      void *p = clhs_calloc((size_t)n, f->size, err, what);
      if (!p) return err->code;
      set_array(w, f, k, p);
    }
  }
  return CLHS_OK;
}

void clhs_fields_free(clhs_world *w) {
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    if (f->role == CLHS_ROLE_OWNED) continue;
    for (int k = 0; k < f->narrays; k++) {
      free(clhs_field_array(w, f, k));
      set_array(w, f, k, NULL);
    }
  }
}

int64_t clhs_fields_bytes(const int64_t count[CLHS_NENTITIES], int64_t held_max) {
  int64_t b = 0;
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    if (clhs_entities[f->entity].replicated) continue;
    /* Centre bounds are counted one per centre: the end entry (4 bytes per array and rank)
     * is left out, as the bytes per agent reported have always left it out. */
    const int64_t n = f->entity == CLHS_E_BOUND ? count[CLHS_E_CENTRE] : count[f->entity];
    b += n * clhs_field_per(f, held_max) * (int64_t)f->size * f->narrays;
  }
  return b;
}

const char *clhs_fields_check(void) {
  static char msg[256];
  int prev = -1; /* the digest row before this one */
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    const clhs_entity_info *e = &clhs_entities[f->entity];
    const char *bad = NULL;
    for (int s = 0; s < r && !bad; s++)
      if (!strcmp(clhs_fields[s].name, f->name)) bad = "a second row of that name";
    if (!bad && clhs_field_stored(f) && (!e->group || f->vtype == CLHS_VT_NONE))
      bad = "stored, but its entity has no checkpoint rows or its type is opaque";
    if (!bad && f->dig != CLHS_DIG_NO) {
      const int shift = f->dig == CLHS_DIG_OR || f->dig == CLHS_DIG_XOR ? (int)f->dig_arg : 0;
      if (f->entity != CLHS_E_AGENT && f->entity != CLHS_E_PATIENT && f->entity != CLHS_E_CLIN &&
          f->entity != CLHS_E_QIS && f->entity != CLHS_E_CENTRE)
        bad = "in the digest, but the digest has no record for its entity";
      else if (f->vtype == CLHS_VT_NONE || f->size != vt_size[f->vtype] || f->narrays != 1 ||
               shift + 8 * (int)f->size > 64)
        bad = "in the digest, but not a scalar that fits its word at its shift";
      else if ((f->dig == CLHS_DIG_OR || f->dig == CLHS_DIG_XOR) &&
               (prev < 0 || clhs_fields[prev].entity != f->entity ||
                clhs_fields[prev].per != f->per))
        bad = "combined into a digest word, but the digest row before it (in the whole "
              "table) is not of its word: another entity or number of entries per entity";
      prev = r;
    }
    if (bad) {
      snprintf(msg, sizeof msg, "the table of fields (include/clhs/fields.h), row %s: %s", f->name,
               bad);
      return msg;
    }
  }
  return NULL;
}

/* ------------------------------------------------------------ documentation */

/* The digest column: word number within the entity's record, and how the value enters. */
static void digest_text(int r, char *buf, size_t len) {
  const clhs_field *f = &clhs_fields[r];
  if (f->dig == CLHS_DIG_NO) {
    snprintf(buf, len, "—");
    return;
  }
  int word = 0;
  for (int s = 0; s <= r; s++)
    word += clhs_fields[s].entity == f->entity &&
            (clhs_fields[s].dig == CLHS_DIG_WORD || clhs_fields[s].dig == CLHS_DIG_MASK);
  const unsigned long long arg = (unsigned long long)f->dig_arg;
  switch (f->dig) {
  case CLHS_DIG_MASK: snprintf(buf, len, "%d: bits 0x%llx", word, arg); break;
  case CLHS_DIG_OR: snprintf(buf, len, "%d: or << %llu", word, arg); break;
  case CLHS_DIG_XOR: snprintf(buf, len, "%d: xor << %llu", word, arg); break;
  default: snprintf(buf, len, "%d", word); break;
  }
}

static const char *per_text(const clhs_field *f) {
  static char buf[48];
  const int64_t v = (int64_t)(f->size / vt_size[f->vtype]);
  switch (f->per) {
  case CLHS_PER_NEEDS: snprintf(buf, sizeof buf, "%d", CLHS_NEEDS * (int)v); break;
  case CLHS_PER_HELD: snprintf(buf, sizeof buf, "`held_max`"); break;
  default: snprintf(buf, sizeof buf, "%lld", (long long)v); break;
  }
  return buf;
}

static const char *const role_text[CLHS_NROLES] = {"state",
                                                   "structure, stored to be compared",
                                                   "structure: rebuilt from the configuration",
                                                   "derived: recomputed every step",
                                                   "scratch within a step",
                                                   "owned by its module"};

void clhs_fields_write_markdown(FILE *out) {
  fprintf(out, "Checkpoint rows of each kind of entry (a dataset is `[rows]`, or `[rows, k]` "
               "with k values per row):\n\n");
  fprintf(out, "| entries | rows | group |\n|---|---|---|\n");
  for (int e = 0; e < CLHS_NENTITIES; e++)
    if (clhs_entities[e].group)
      fprintf(out, "| %s | %s | `/%s` |\n", clhs_entities[e].name, clhs_entities[e].rows,
              clhs_entities[e].group);
  fprintf(out,
          "\nThe state datasets, in the order written. *Digest*: the word of the entry's record "
          "in the state digest that the value is folded into (an agent's record: its words, "
          "then its tie ends; a patient's; a centre's: its words, then each clinician's, then "
          "each QIS's), shifted left and or-ed or xor-ed into it, or only the bits shown.\n\n");
  fprintf(out, "| dataset | entries | type | values per row | digest | unit | meaning |\n");
  fprintf(out, "|---|---|---|---|---|---|---|\n");
  for (int r = 0; r < CLHS_NFIELDS; r++) {
    const clhs_field *f = &clhs_fields[r];
    if (!clhs_field_stored(f)) continue;
    char dig[64];
    digest_text(r, dig, sizeof dig);
    fprintf(out, "| `/%s/%s` | %s | %s%s%s%s | %s | %s | %s | %s%s |\n",
            clhs_entities[f->entity].group, f->name, clhs_entities[f->entity].name,
            vt_name[f->vtype], f->size != vt_size[f->vtype] ? " (`" : "",
            f->size != vt_size[f->vtype] ? f->ctype : "", f->size != vt_size[f->vtype] ? "`)" : "",
            per_text(f), dig, f->unit, f->meaning,
            f->role == CLHS_ROLE_CHECKED
                ? " (structure: compared with the world the configuration builds, not loaded)"
                : "");
  }
  fprintf(out, "\nThe world's other arrays, not stored (in the digest only where shown):\n\n");
  fprintf(out, "| array | entries | C type | role | unit | meaning |\n|---|---|---|---|---|---|\n");
  for (int e = 0; e < CLHS_NENTITIES; e++)
    for (int r = 0; r < CLHS_NFIELDS; r++) {
      const clhs_field *f = &clhs_fields[r];
      if (f->entity != e || clhs_field_stored(f)) continue;
      fprintf(out, "| `%s` | %s%s | `%s` | %s | %s | %s |\n", f->name, clhs_entities[e].name,
              f->per == CLHS_PER_1       ? ""
              : f->per == CLHS_PER_NEEDS ? " × 4"
                                         : " × `held_max`",
              f->ctype, role_text[f->role], f->unit, f->meaning);
    }
  fprintf(out, "\nBytes per entry, as `clhs_world_bytes` and the memory estimate count them "
               "(replicated arrays, the ranks' bounds, are counted apart as the replicated tables; "
               "centre bounds "
               "one per centre, leaving out the end entry):\n\n");
  fprintf(out, "| entries | this rank holds | bytes per entry |\n|---|---|---|\n");
  for (int e = 0; e < CLHS_NENTITIES; e++) {
    int64_t fixed = 0, held = 0;
    for (int r = 0; r < CLHS_NFIELDS; r++) {
      const clhs_field *f = &clhs_fields[r];
      if (f->entity != e) continue;
      const int64_t b = (int64_t)f->size * f->narrays;
      if (f->per == CLHS_PER_HELD)
        held += b;
      else
        fixed += b * clhs_field_per(f, 0);
    }
    fprintf(out, "| %s | %s | %lld", clhs_entities[e].name, clhs_entities[e].count,
            (long long)fixed);
    if (held) fprintf(out, " + %lld × `resources.held_max`", (long long)held);
    fprintf(out, "%s |\n", clhs_entities[e].replicated ? " (replicated)" : "");
  }
}
