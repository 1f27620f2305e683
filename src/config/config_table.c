/*
 * The one table of configuration keys: every parameter of ../shared/MODEL.md (and the run,
 * output and checkpoint controls) with its default, allowed range, unit and meaning.
 * Nothing else in the code base may hold a default: clhs_config_defaults parses the `def`
 * texts below, so what `clhsim config` prints is by construction what a run uses.
 */
#include "config/config_table.h"

#include <math.h>
#include <stddef.h>

const char *const clhs_lever_names[CLHS_NLEVERS] = {
    "registry", "qi_training", "previsit",   "guidelines", "ehr",
    "commons",  "roles",       "engagement", "outreach",   "research"};

const char *const clhs_type_names[CLHS_NTYPES] = {"PAT", "FAM", "CLIN", "QIS", "RES"};

const char *const clhs_config_kind_names[CLHS_CK_NKINDS] = {"an integer",
                                                            "a number",
                                                            "an unsigned integer",
                                                            "a string",
                                                            "a date YYYY-MM-DD",
                                                            "a date YYYY-MM-DD or a step number",
                                                            "one of the names",
                                                            "a sequence of numbers",
                                                            "a sequence of [date, count] pairs",
                                                            "a sequence of centre indices"};

/* clang-format off: the table reads best as one aligned entry per key. */
// clang-format off
static const char *const join_names[] = {"schedule", "bass", NULL};

#define INF ((double)INFINITY)
/* Upper bound for counts that only need to fit comfortably in an int64 and in memory. */
#define BIG 1e9
#define OFF(field) offsetof(clhs_config, field)

#define I64(sec, k, def, lo, hi, unit, meaning)                                                   \
  {#sec "." #k, CLHS_CK_INT64, OFF(sec.k), 0, def, lo, hi, 0, unit, meaning, NULL}
#define DBL(sec, k, def, lo, hi, unit, meaning)                                                   \
  {#sec "." #k, CLHS_CK_DOUBLE, OFF(sec.k), 0, def, lo, hi, 0, unit, meaning, NULL}
/* A strictly positive double: (lo, hi]. */
#define DBLPOS(sec, k, def, hi, unit, meaning)                                                    \
  {#sec "." #k, CLHS_CK_DOUBLE, OFF(sec.k), 0, def, 0, hi, CLHS_CF_MIN_OPEN, unit, meaning, NULL}
#define PROB(sec, k, def, meaning) DBL(sec, k, def, 0, 1, "probability", meaning)
#define DVEC(sec, k, n, def, lo, hi, unit, meaning)                                               \
  {#sec "." #k, CLHS_CK_DVEC, OFF(sec.k), n, def, lo, hi, 0, unit, meaning, NULL}
#define STR(sec, k, def, meaning)                                                                 \
  {#sec "." #k, CLHS_CK_STRING, OFF(sec.k), sizeof(((clhs_config *)0)->sec.k), def, 0, 0, 0,     \
   "path", meaning, NULL}

/* Bare constants of model v1 (MODEL.md: "Bare constants are fixed in v1, but they too live in
 * the one table of defaults"): reported and packed like any key, but not settable. */
#define CDBL(k, def, lo, hi, fl, unit, meaning)                                                   \
  {"constants." #k, CLHS_CK_DOUBLE, OFF(constants.k), 0, def, lo, hi, CLHS_CF_FIXED | (fl), unit, \
   meaning, NULL}
#define CI64(k, def, lo, hi, unit, meaning)                                                       \
  {"constants." #k, CLHS_CK_INT64, OFF(constants.k), 0, def, lo, hi, CLHS_CF_FIXED, unit, meaning, \
   NULL}
#define CVEC(k, n, def, lo, hi, fl, unit, meaning)                                                \
  {"constants." #k, CLHS_CK_DVEC, OFF(constants.k), n, def, lo, hi, CLHS_CF_FIXED | (fl), unit,   \
   meaning, NULL}
/* Beta(a, b) shape parameters: both strictly positive. */
#define CBETA(k, def, meaning)                                                                    \
  CVEC(k, 2, def, 0, 100, CLHS_CF_MIN_OPEN, "Beta shapes a, b", meaning)
#define CFRAC(k, def, unit, meaning) CDBL(k, def, 0, 1, 0, unit, meaning)

/* Lever fields live in an array of structs; compute the offset without a subscripted
 * member designator in offsetof (not strictly portable C11). */
#define LEV_OFF(id, f)                                                                            \
  (offsetof(clhs_config, levers) + (size_t)(id) * sizeof(clhs_lever_cfg) +                        \
   offsetof(clhs_lever_cfg, f))
#define LEVER(name, id, on_def, ramp_def, drives)                                                 \
  {"levers." #name ".on", CLHS_CK_DATE_OR_STEP, LEV_OFF(id, on), CLHS_DATE_LEN, on_def, 0, BIG,  \
   0, "date or step",                                                                             \
   "when the " #name " lever (" drives ") starts to ramp up: a date YYYY-MM-DD, or a step "       \
   "number counted from run.start_date; at `on` the intensity is still 0",                        \
   NULL},                                                                                         \
  {"levers." #name ".ramp", CLHS_CK_DOUBLE, LEV_OFF(id, ramp), 0, ramp_def, 0, 1e6, 0, "weeks",   \
   "weeks from `on` to full intensity; 0 makes the lever a step change (full intensity from "     \
   "the first step after `on`)",                                                                  \
   NULL},                                                                                         \
  {"levers." #name ".max", CLHS_CK_DOUBLE, LEV_OFF(id, max), 0, "1", 0, 1, 0, "intensity",        \
   "intensity reached at the end of the ramp", NULL},                                            \
  {"levers." #name ".centres", CLHS_CK_ILIST, LEV_OFF(id, ncentres), LEV_OFF(id, centres), "[]",  \
   0, 2147483646.0, 0, "centre indices",                                                          \
   "centres the lever applies to (a cluster-randomised trial); empty = every centre; "           \
   "each index must be below population.centres",                                                \
   NULL}

const clhs_config_entry clhs_config_table[] = {
    /* ---- run control (MODEL.md §1) ---- */
    I64(run, steps, "730", 1, BIG, "steps", "number of weekly steps to simulate"),
    {"run.start_date", CLHS_CK_DATE, OFF(run.start_date), CLHS_DATE_LEN, "2007-01-01", 0, 0, 0,
     "date", "calendar date of step 0; lever dates are counted from it", NULL},
    {"run.seed", CLHS_CK_UINT64, OFF(run.seed), 0, "1", 0, 0, 0, "seed",
     "seed of the counter-based random generator (with step, agent id and purpose)", NULL},
    DBL(run, max_wall_time, "0", 0, INF, "seconds",
        "stop cleanly (writing a checkpoint if enabled) after this much wall time; 0 = no limit"),

    /* ---- population (MODEL.md §2) ---- */
    I64(population, centres, "100", 1, 2147483647.0, "centres", "number of care centres"),
    DBLPOS(population, patients_median, "250", 1e7, "patients",
           "median of the log-normal number of patients per centre"),
    DBL(population, patients_sigma, "0.6", 0, 10, "log-scale SD",
        "sigma of the log-normal number of patients per centre"),
    I64(population, patients_min, "50", 1, 1e7, "patients",
        "fewest patients in a centre (draws below are redrawn)"),
    I64(population, patients_max, "1000", 1, 1e7, "patients",
        "most patients in a centre (draws above are redrawn); must be >= patients_min"),
    PROB(population, caregivers_per_patient, "1.0",
         "probability that a patient has a caregiver (FAM agent)"),
    I64(population, patients_per_clinician, "32", 1, 1e7, "patients per clinician",
        "clinicians per centre = ceil(patients / patients_per_clinician)"),
    I64(population, qis_base, "3", 1, 1e6, "staff",
        "improvement staff per centre before the size term (at least 1, so Q_c is defined)"),
    I64(population, qis_per_patients, "300", 1, 1e9, "patients per staff",
        "one more improvement staff member per this many patients"),
    I64(population, researchers_min, "5", 0, 1e9, "researchers",
        "fewest researchers in the network"),
    DBL(population, researchers_per_centre, "0.2", 0, 1e3, "researchers per centre",
        "researchers = max(researchers_min, round(researchers_per_centre x centres))"),

    /* ---- ties (MODEL.md §4) ---- */
    DBL(network, peer_rate, "0.5", 0, 1e6, "ties per week per 100 families",
        "within-centre peer ties created per week, x I_community x families/100"),
    PROB(network, role_homophily, "0.8",
         "probability that the second end of a peer tie has the role of the first"),
    I64(network, conference_every, "26", 1, BIG, "weeks", "weeks between conferences"),
    I64(network, webinar_every, "4", 1, BIG, "weeks", "weeks between webinars"),
    DVEC(network, attend, 3, "[0.3, 0.6, 0.9]", 0, 1, "probability",
         "p_att: event attendance probability for tiers E = 2, 3, 4 (x I_train x m)"),
    DBL(network, conference_ties, "2", 0, 1e6, "ties per attendee",
        "mean new cross-centre ties per conference attendee (Poisson)"),
    DBL(network, webinar_ties, "0.2", 0, 1e6, "ties per attendee",
        "mean new cross-centre ties per webinar attendee (Poisson)"),
    DBL(network, cross_role, "0.3", 0, 1, "relative weight",
        "weight of an event partner of another agent type (same type = 1)"),
    PROB(network, online_rate, "0.01",
         "weekly probability that an agent with E >= 2 forms an online tie (x I_platform)"),
    DBL(network, decay, "0.01", 0, 1, "fraction per week",
        "multiplicative weekly weight loss of non-care ties"),
    DBL(network, reinforce, "0.2", 0, 1, "tie weight",
        "weight added to a tie by an interaction over it (capped at 1)"),
    DBL(network, prune_below, "0.05", 0, 1, "tie weight",
        "non-care ties below this weight are removed"),

    /* ---- motivation (MODEL.md §5) ---- */
    DBL(motivation, gamma_r, "0.5", 0, 1e6, "per unit tie weight",
        "saturation rate of relatedness in the sum of tie weights"),
    DBL(motivation, kappa_success, "0.02", 0, 1, "rate per success",
        "competence gain per own resource adopted or own adoption"),
    DBL(motivation, kappa_train, "0.05", 0, 1, "rate per event",
        "competence gain for attending an event (x I_train)"),
    DBL(motivation, k_decay, "0.002", 0, 1, "fraction per week", "weekly decay of competence"),
    DBL(motivation, eta_v, "0.05", 0, 1, "fraction per week",
        "speed at which perceived value V follows its target"),
    DBL(motivation, w_a, "2", 0, 100, "logit weight", "weight of autonomy A in the target m*"),
    DBL(motivation, w_k, "2", 0, 100, "logit weight", "weight of competence K in the target m*"),
    DBL(motivation, w_r, "2", 0, 100, "logit weight", "weight of relatedness Rl in the target m*"),
    DBL(motivation, w_v, "3", 0, 100, "logit weight", "weight of value V in the target m*"),
    DBL(motivation, theta, "3.5", -100, 100, "logit",
        "threshold subtracted inside the sigmoid of the target m*"),
    DBL(motivation, eta_m, "0.05", 0, 1, "fraction per week",
        "speed at which motivation m follows its target m*"),
    DBL(motivation, mu_patient, "0.05", 0, 1, "fraction per week",
        "social influence of neighbours on PAT/FAM motivation (patient influence)"),
    DBL(motivation, mu_staff, "0.03", 0, 1, "fraction per week",
        "social influence of neighbours on CLIN/QIS/RES motivation"),
    DBL(motivation, mu_visit, "0.05", 0, 1, "fraction per visit",
        "pull of a less motivated clinician on the patient's m at a visit"),

    /* ---- engagement ladder (MODEL.md §6) ---- */
    DBL(engagement, beta_lead, "0.5", 0, 1e6, "per unit tie weight",
        "boost of moving up per unit of tie weight to leaders (E = 4)"),
    DVEC(engagement, up_family, 4, "[0.02, 0.0015, 0.004, 0.0001]", 0, 1, "probability per week",
         "PAT/FAM chance of moving up one tier, by current tier E = 0..3 (x m x O x leaders) "
         "(v1.1: [0.02, 0.001, 0.001, 0.0001])"),
    DVEC(engagement, up_staff, 4, "[0.02, 0.01, 0.008, 0.001]", 0, 1, "probability per week",
         "CLIN/QIS/RES chance of moving up one tier, by current tier E = 0..3 "
         "(v1.1: [0.02, 0.01, 0.004, 0.001])"),
    DVEC(engagement, down, 4, "[0, 0.005, 0.01, 0.01]", 0, 1, "probability per week",
         "chance of moving down one tier, by E - 1 for E = 1..4 (first is 0: awareness stays)"),
    PROB(engagement, invite, "0.1",
         "chance that an engaged clinician makes an unaware patient aware at a visit"),

    /* ---- resources and the commons (MODEL.md §3, §7) ---- */
    I64(resources, held_max, "4", 1, 1000, "resources",
        "number of most recently adopted resources an agent remembers"),
    DBL(resources, create_cost, "0.6", 0, 1, "fraction",
        "share of the creation rate lost to the cost of creating without tools (1 - I_tools)"),
    DVEC(resources, rate, 4, "[0.02, 0.02, 0.02, 0.05]", 0, 1e3, "resources per week",
         "lambda0: base creation rate for PAT, FAM, CLIN, QIS"),
    DBL(resources, research_rate, "0.01", 0, 1e3, "resources per week",
        "base rate of knowledge resources per researcher"),
    DBL(resources, evidence_gain, "0.005", 0, 1, "fraction",
        "rise of the evidence level E_tx per research resource (x quality)"),
    PROB(resources, p_tie, "0.5", "chance that a new resource is offered over a tie (x weight)"),
    PROB(resources, p_post, "0.6",
         "chance that a new resource is posted to the commons (x I_commons x m)"),
    DBL(resources, need_threshold, "0.3", 0, 1, "unmet need",
        "largest unmet need above which an agent searches"),
    PROB(resources, p_search, "0.3", "weekly chance of searching when in need (x m)"),
    DBL(resources, find_rate, "0.05", 0, 1e6, "per unit quality",
        "discovery hazard through the commons per unit of commons quality (x I_find)"),
    DBLPOS(resources, saturation, "40", 1e12, "quality units",
           "commons size at which information overload halves the discovery gain"),
    DBL(resources, beta_peer, "1", 0, 1e6, "multiplier",
        "complex contagion: adoption boost per share of neighbours holding the category"),
    DBL(resources, coverage_gain, "0.3", 0, 1, "coverage",
        "need coverage s gained per adoption (x quality)"),
    DBL(resources, decay, "0.005", 0, 1, "fraction per week",
        "obsolescence: weekly loss of resource quality and of coverage toward 0.1"),

    /* ---- care and outcomes (MODEL.md §3, §8) ---- */
    PROB(care, init_remission, "0.57", "share of patients in remission at step 0"),
    PROB(care, init_steroid_active, "0.65",
         "share of patients with active disease on steroids at step 0"),
    DBL(care, t_drift, "0.01", 0, 1, "fraction per week",
        "weekly drift of treatment appropriateness T toward t_base"),
    DBL(care, t_base, "0.2", 0, 1, "appropriateness", "level T drifts to without attention"),
    I64(care, visit_rem, "13", 1, 1000, "weeks", "weeks to the next visit after a remission visit"),
    I64(care, visit_act, "6", 1, 1000, "weeks", "weeks to the next visit after an active visit"),
    PROB(care, misread, "0.05", "chance that the physician global assessment misreads the state"),
    PROB(care, steroid_start, "0.55",
         "base chance of starting steroids at an active visit not already on steroids: "
         "steroid_start (1 - steroid_g g)(1 - steroid_etx E_tx) (v1.1: 0.6)"),
    DBL(care, steroid_g, "0.3", 0, 1, "multiplier",
        "reduction of the steroid start chance per unit of the clinician's guideline adherence g "
        "(v1.1: 0.6, then a bare constant)"),
    DBL(care, steroid_etx, "0", 0, 1, "multiplier",
        "reduction of the steroid start chance per unit of the evidence level E_tx "
        "(v1.1: 0.5, then a bare constant; v1.2 lowers steroid use through M1 instead)"),
    I64(care, steroid_course, "26", 1, 1000, "weeks", "longest steroid course"),
    DBL(care, h_rel, "0.016", 0, 1, "weekly hazard", "base relapse hazard"),
    DBL(care, rel_adherence, "0.8", 0, 2, "multiplier",
        "relapse hazard reduction per unit of adherence above 0.5 (<= 2 keeps it >= 0)"),
    DBL(care, rel_treatment, "0.4", 0, 1, "multiplier",
        "relapse hazard reduction per unit of treatment appropriateness"),
    DBL(care, rel_selfmgmt, "0.3", 0, 1, "multiplier",
        "relapse hazard reduction per unit of self-management coverage"),
    DBL(care, h_rem, "0.0125", 0, 1, "weekly hazard", "base remission hazard (v1.1: 0.012)"),
    DBL(care, rem_adherence, "0.8", 0, 2, "multiplier",
        "remission hazard gain per unit of adherence above 0.5 (<= 2 keeps it >= 0)"),
    DBL(care, rem_treatment, "1.0", 0, 100, "multiplier",
        "remission hazard gain per unit of treatment appropriateness"),
    DBL(care, induction_boost, "1.45", 0, 100, "multiplier",
        "remission hazard multiplier during an induction (ind > 0), times "
        "(1 + rem_evidence dE) (v1.1: 3.8)"),
    DBL(care, rem_evidence, "6.75", 0, 1000, "per unit of evidence",
        "M1 evidence-based therapy: the induction boost grows by this per unit of "
        "dE = max(0, E_tx - 0.1) for patients of member centres (v1.1: 0 = off)"),
    DBL(care, rel_evidence, "0", 0, 1, "per unit of evidence",
        "M1, optional: the relapse hazard is multiplied by (1 - rel_evidence dE) for patients "
        "of member centres (0 = off, as in v1.1 and v1.2)"),
    PROB(care, turnover, "0.003", "weekly chance that a patient leaves and is replaced"),

    /* ---- centres joining (MODEL.md §9) ---- */
    {"centres.join", CLHS_CK_ENUM, OFF(centres.join), 0, "schedule", 0, 0, 0, "mode",
     "how centres join: schedule (follow centres.schedule) or bass (diffusion)", join_names},
    {"centres.schedule", CLHS_CK_SCHEDULE, OFF(centres.nschedule), 0,
     "[[2007-01-01, 7], [2009-06-01, 23], [2012-03-01, 33], [2015-05-01, 75], "
     "[2015-12-01, 85], [2016-06-01, 92], [2017-06-01, 96]]",
     0, 100, 0, "members per 100 centres",
     "piecewise-linear member curve: [date, members per 100 centres]; dates strictly "
     "increasing, counts non-decreasing in [0, 100]",
     NULL},
    PROB(centres, initial_share, "0.07", "bass: share of centres that are members at step 0"),
    PROB(centres, bass_p, "0.005", "bass: innovation, chance per 13 weeks of joining alone"),
    DBL(centres, bass_q, "0.08", 0, 1, "probability",
        "bass: imitation, chance per 13 weeks per member share"),
    DBL(centres, beta_value, "0", 0, 100, "multiplier",
        "bass: imitation boost per unit of mean V of member clinicians"),
    DBL(centres, coaching, "0.1", 0, 1, "fraction per week",
        "M3 QI coaching: every week each QIS of a member centre gains "
        "q += coaching I_train (1 - q) (v1.1: 0 = off)"),

    /* ---- policy levers (MODEL.md §10) ---- */
    LEVER(registry, CLHS_LEV_REGISTRY, "2007-01-01", "26", "I_registry"),
    LEVER(qi_training, CLHS_LEV_QI_TRAINING, "2007-01-01", "26", "I_train, I_QI, events"),
    LEVER(previsit, CLHS_LEV_PREVISIT, "2008-03-01", "26", "I_pvp, I_pop"),
    LEVER(guidelines, CLHS_LEV_GUIDELINES, "2007-06-01", "52", "+0.1 on g*"),
    LEVER(ehr, CLHS_LEV_EHR, "2011-01-01", "208", "c_data 0.6 -> 0.2"),
    LEVER(commons, CLHS_LEV_COMMONS, "2012-06-01", "52",
          "I_commons, I_find, I_platform, I_tools"),
    LEVER(roles, CLHS_LEV_ROLES, "2012-01-01", "156", "I_roles, I_community"),
    LEVER(engagement, CLHS_LEV_ENGAGEMENT, "2015-01-01", "52", "I_outreach, beta_lead +0.5"),
    LEVER(outreach, CLHS_LEV_OUTREACH, "2017-08-01", "26", "adds to I_outreach and I_find"),
    LEVER(research, CLHS_LEV_RESEARCH, "2010-01-01", "156", "I_research"),

    /* ---- output (MODEL.md §11) ---- */
    STR(output, path, "clhsim.h5", "HDF5 output file"),
    I64(output, every, "1", 1, BIG, "steps", "record every this many steps"),
    I64(output, centre_every, "-1", -1, BIG, "steps",
        "record the per-centre series (the centre axis) every this many steps, a multiple of "
        "output.every, from step 0; 0 = off (no per-centre series); -1 = output.every"),
    I64(output, established_weeks, "52", 0, BIG, "weeks",
        "a member counts as established this many weeks after joining"),

    /* ---- checkpoint/restart (not part of the model) ---- */
    I64(checkpoint, every, "0", 0, BIG, "steps",
        "write a checkpoint every this many steps; 0 = off"),
    DBL(checkpoint, wall, "0", 0, INF, "seconds",
        "write a checkpoint every this many seconds of wall time; 0 = off"),
    STR(checkpoint, dir, "checkpoints", "folder for checkpoint files"),
    I64(checkpoint, keep, "2", 1, 1000, "files", "number of most recent checkpoints kept"),

    /* ---- bare constants, fixed in model v1 (MODEL.md §3, §5-§10); keep them last ---- */
    CBETA(init_m_family, "[2, 3]", "§3: initial motivation m of PAT/FAM ~ Beta(a, b)"),
    CBETA(init_m_staff, "[3, 2]", "§3: initial motivation m of CLIN/QIS/RES ~ Beta(a, b)"),
    CFRAC(init_akr_family, "0.3", "need satisfaction",
          "§3: initial autonomy A, competence K and relatedness Rl of PAT/FAM"),
    CFRAC(init_akr_staff, "0.5", "need satisfaction",
          "§3: initial autonomy A, competence K and relatedness Rl of CLIN/QIS/RES"),
    CFRAC(init_tier_family, "0.2", "probability",
          "§3: chance that a PAT/FAM starts at tier E = 1 (aware) rather than E = 0"),
    CFRAC(init_tier_staff, "0.3", "probability",
          "§3: chance that a CLIN/QIS starts at tier E = 2 rather than E = 1 (RES start at 1)"),
    CBETA(init_need, "[2, 2]", "§3: initial need n[k] ~ Beta(a, b), for each category k"),
    CFRAC(init_cover, "0.1", "coverage",
          "§3, §7: initial need coverage s[k], and the level it decays back toward"),
    CBETA(init_T, "[2, 3]", "§3: initial treatment appropriateness T ~ Beta(a, b)"),
    CBETA(init_adherence, "[6, 4]", "§3: initial adherence a ~ Beta(a, b)"),
    CI64(init_visit_spread, "13", 1, 1000, "weeks",
         "§3: a patient's first next_visit is uniform in 0 .. init_visit_spread - 1"),
    CI64(init_course_spread, "26", 1, 1000, "weeks",
         "§8: steroid courses running at step 0 have lasted uniform 0 .. init_course_spread - 1 "
         "weeks"),
    CFRAC(init_g, "0.5", "adherence", "§3: initial guideline adherence g of clinicians"),
    CFRAC(init_q, "0.2", "skill", "§3: initial QI skill q of improvement staff"),
    CFRAC(init_r, "0.21", "reliability", "§3: initial process reliability r_c of a centre"),
    CFRAC(init_d, "0.5", "completeness", "§3: initial registry completeness d_c of a centre"),
    CFRAC(init_evidence, "0.1", "evidence level", "§3: initial network-wide evidence level E_tx"),

    CFRAC(relatedness_rate, "0.05", "fraction per week",
          "§5: Rl += relatedness_rate (1 - exp(-gamma_r sum w) - Rl)"),
    CFRAC(autonomy_rate, "0.05", "fraction per week", "§5: A += autonomy_rate (A* - A)"),
    CVEC(autonomy_target, 4, "[0.3, 0.4, 0.3, 0.3]", 0, 1, 0, "weights",
         "§5: A* = c0 + c1 R, + c2 m_clin for PAT/FAM, + c3 I_research for RES"),
    CDBL(motivation_eps, "1e-9", 0, 1, CLHS_CF_MIN_OPEN, "tie weight",
         "§5: added to sum w in the denominator of social influence (no division by 0)"),
    CDBL(outreach_aware, "1.5", 0, 100, 0, "multiplier",
         "§6: O = 1 + outreach_aware I_outreach, for the move from unaware (E = 0) to aware"),
    CVEC(quality_base, 2, "[0.5, 0.5]", 0, 1, 0, "coefficients",
         "§7: quality of a new resource v = Beta(quality_beta) (c0 + c1 K) of its creator"),
    CBETA(quality_beta, "[2, 2]", "§7: the Beta(a, b) draw in the quality of a new resource"),
    CVEC(adopt_m, 2, "[0.5, 0.5]", 0, 1, 0, "coefficients",
         "§7: adoption probability v (c0 + c1 m)(1 + beta_peer f)"),
    CDBL(research_nrec_scale, "1000", 0, 1e12, CLHS_CF_MIN_OPEN, "registry records",
         "§7: research rate grows with log(1 + N_rec / research_nrec_scale)"),

    CFRAC(adherence_rate, "0.05", "fraction per week", "§8: a += adherence_rate (a* - a)"),
    CVEC(adherence_target, 4, "[0.4, 0.2, 0.3, 0.1]", 0, 1, 0, "weights",
         "§8: target adherence a* = c0 + c1 m + c2 S + c3 m_fam"),
    CFRAC(guideline_rate, "0.03", "fraction per week", "§8: g += guideline_rate (g* - g)"),
    CVEC(guideline_target, 5, "[0.3, 0.4, 0.1, 0.1, 0.1]", 0, 1, 0, "weights",
         "§8: target guideline adherence g* = c0 + c1 r_c + c2 s[0] + c3 E_tx + c4 I_guidelines "
         "(capped at 1)"),
    CI64(recall_weeks, "6", 1, 1000, "weeks",
         "§8: population management recalls an ACT patient read as REM whose last visit was at "
         "least this many weeks ago"),
    CDBL(escalate_pvp, "0.5", 0, 100, 0, "multiplier",
         "§8: escalation chance min(1, g r_c (1 + escalate_pvp I_pvp)(1 + escalate_registry d_c))"),
    CDBL(escalate_registry, "0.2", 0, 100, 0, "multiplier",
         "§8: weight of registry completeness d_c in the escalation chance (see escalate_pvp)"),
    CFRAC(escalate_T, "0.3", "appropriateness",
          "§8: an escalation raises treatment appropriateness T by this much (capped at 1)"),
    CI64(induction_weeks, "12", 1, 255, "weeks",
         "§8: an escalation sets the induction counter ind to this many weeks (one byte per "
         "patient: at most 255)"),
    CI64(steroid_remission_stop, "12", 1, 1000, "weeks",
         "§8: a steroid course stops after this many consecutive weeks of true remission"),
    CFRAC(renew_T, "0.2", "appropriateness",
          "§8: treatment appropriateness T of a newly diagnosed patient (turnover)"),

    CFRAC(reliability_rate, "0.04", "fraction per week",
          "§9: r_c += reliability_rate Q_c (1 - r_c)(1 + reliability_selfmgmt S_c) I_QI - "
          "reliability_decay (r_c - reliability_usual)"),
    CDBL(reliability_selfmgmt, "0.5", 0, 100, 0, "multiplier",
         "§9: boost of reliability growth per unit of S_c (mean s[1] of the centre's QIS)"),
    CFRAC(reliability_decay, "0.001", "fraction per week",
          "§9: weekly pull of r_c back toward reliability_usual"),
    CFRAC(reliability_usual, "0.21", "reliability",
          "§9: usual-care reliability that r_c settles back to without QI work"),
    CFRAC(qi_skill_gain, "0.1", "fraction per event",
          "§9: q += qi_skill_gain (1 - q) at each event a QIS attends"),
    CFRAC(completeness_rate, "0.02", "fraction per week",
          "§9: d_c += completeness_rate I_registry (1 - c_data)(1 - d_c) - completeness_decay d_c"),
    CFRAC(completeness_decay, "0.002", "fraction per week",
          "§9: weekly loss of registry completeness d_c"),
    CVEC(c_data, 2, "[0.6, 0.2]", 0, 1, 0, "cost",
         "§9, §10: cost of data entry c_data without and with the EHR lever at full intensity"),
    CI64(bass_every, "13", 1, 1000, "weeks",
         "§9: with centres.join = bass, non-members may join at every step that is a multiple of "
         "this"),
    CDBL(outreach_find, "0.5", 0, 100, 0, "multiplier",
         "§10: I_find = I_commons + outreach_find x intensity of the outreach lever"),
    CDBL(engagement_lead, "0.5", 0, 1e6, 0, "per unit tie weight",
         "§10: the engagement lever adds engagement_lead x its intensity to beta_lead"),
};

const size_t clhs_config_table_len = sizeof clhs_config_table / sizeof clhs_config_table[0];

const clhs_config_group clhs_config_groups[] = {
    {"run", "Run control (MODEL.md §1 Time and scale)"},
    {"population", "Population (MODEL.md §2 Entities)"},
    {"network", "Ties (MODEL.md §4 Ties)"},
    {"motivation", "Motivation (MODEL.md §5 Motivation: self-determination theory and social "
                   "influence)"},
    {"engagement", "Engagement ladder (MODEL.md §6 Engagement ladder)"},
    {"resources", "Resources and the commons (MODEL.md §3 State, §7 Resources)"},
    {"care", "Care and outcomes (MODEL.md §3 State, §8 Care and outcomes)"},
    {"centres", "Centres joining the network (MODEL.md §9 Centres and their improvement work)"},
    {"levers", "Policy levers: I(t) = max * clamp((t - on)/ramp, 0, 1) (MODEL.md §10 "
               "Infrastructure and services)"},
    {"levers.registry", "registry: drives I_registry"},
    {"levers.qi_training", "qi_training: drives I_train, I_QI and the event schedule"},
    {"levers.previsit", "previsit: drives I_pvp, I_pop"},
    {"levers.guidelines", "guidelines: adds 0.1 x intensity to g*"},
    {"levers.ehr", "ehr: lowers c_data from 0.6 to 0.2"},
    {"levers.commons", "commons: drives I_commons, I_find, I_platform, I_tools"},
    {"levers.roles", "roles: drives I_roles, I_community"},
    {"levers.engagement", "engagement: drives I_outreach and beta_lead +0.5"},
    {"levers.outreach", "outreach: adds to I_outreach; adds 0.5 x intensity to I_find"},
    {"levers.research", "research: drives I_research"},
    {"output", "Output (MODEL.md §11 What is recorded)"},
    {"checkpoint", "Checkpoint/restart (not part of the model)"},
    {"constants", "Fixed constants of model v1, shown for reference; they cannot be set "
                  "(MODEL.md §3 State, §5 Motivation, §6 Engagement ladder, §7 Resources, "
                  "§8 Care and outcomes, §9 Centres and their improvement work, "
                  "§10 Infrastructure and services)"},
};

const size_t clhs_config_groups_len = sizeof clhs_config_groups / sizeof clhs_config_groups[0];
// clang-format on
