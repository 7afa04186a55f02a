/* Plain C reference for the changesim threshold kernel, used only by sim/bench.py.
 *
 * The same rule and the same work as sim.engine.simulate for the pure network threshold
 * rule (fraction threshold, p_spontaneous = 0): a non-adopter i adopts at step t iff
 *     e_i = sum_j w_ij x_j / sum_j w_ij >= theta_i   (e_i = 0 when sum_j w_ij = 0),
 * summed in CSR order (so rounding is identical), all decisions of a step applied
 * together. Step 1 scans everyone; later steps re-examine only contacts of the previous
 * step's new adopters (a stamp array avoids examining anyone twice in one step), and the
 * run stops at the first step with no change, copying the counts forward. Counts by
 * adoption state are recorded per step for one group (the whole organisation), as
 * simulate does with by_group=False. Workspaces are allocated inside the call, as in
 * simulate, so both sides pay for them.
 *
 * Compile: cc -O3 -march=native -shared -fPIC threshold.c -o libthreshold.so
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define COMMITTED 2
#define N_STATES 4

static inline int is_adopted(uint8_t s) { return s == 1 || s == 2; }

static inline int decide(int64_t i, const int64_t *indptr, const uint32_t *indices,
                         const double *weight, const double *threshold, const uint8_t *state) {
    double num = 0.0, den = 0.0;
    for (int64_t e = indptr[i]; e < indptr[i + 1]; e++) {
        double w = weight[e];
        den += w;
        if (is_adopted(state[indices[e]])) num += w;
    }
    double drive = den > 0.0 ? num / den : 0.0;
    return drive >= threshold[i];
}

/* Run n_steps synchronous steps in place; returns the last step computed (the fixed
 * point's step when the run stopped early) or -1 when out of memory.
 * counts: (n_steps+1) x 4 int32, zero on entry. frontier = 0 scans every non-adopter
 * every step (the full-scan variant). */
int64_t threshold_run(int64_t n, const int64_t *indptr, const uint32_t *indices,
                      const double *weight, const double *threshold, uint8_t *state,
                      int32_t *t_adopted, int64_t n_steps, int frontier, int32_t *counts) {
    int64_t *prev_new = malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    int64_t *new_ = malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    uint8_t *old = malloc(n > 0 ? n : 1);
    int64_t *stamp = malloc(sizeof(int64_t) * (n > 0 ? n : 1));
    if (!prev_new || !new_ || !old || !stamp) {
        free(prev_new); free(new_); free(old); free(stamp);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) stamp[i] = -1;
    for (int64_t i = 0; i < n; i++) counts[state[i]]++;
    int64_t n_prev = 0;
    for (int64_t i = 0; i < n; i++)
        if (is_adopted(state[i]) && t_adopted[i] == 0) prev_new[n_prev++] = i;

    int64_t t_last = n_steps;
    for (int64_t t = 1; t <= n_steps; t++) {
        int32_t *c = counts + t * N_STATES;
        memcpy(c, c - N_STATES, sizeof(int32_t) * N_STATES);
        int64_t n_new = 0;
        if (frontier && t > 1) {
            for (int64_t k = 0; k < n_prev; k++) {
                int64_t j = prev_new[k];
                for (int64_t e = indptr[j]; e < indptr[j + 1]; e++) {
                    int64_t i = indices[e];
                    if (stamp[i] == t || is_adopted(state[i])) continue;
                    stamp[i] = t;
                    if (decide(i, indptr, indices, weight, threshold, state)) new_[n_new++] = i;
                }
            }
        } else {
            for (int64_t i = 0; i < n; i++) {
                if (is_adopted(state[i])) continue;
                if (decide(i, indptr, indices, weight, threshold, state)) new_[n_new++] = i;
            }
        }
        for (int64_t k = 0; k < n_new; k++) {
            int64_t i = new_[k];
            old[k] = state[i];
            state[i] = COMMITTED;
            t_adopted[i] = (int32_t)t;
            c[old[k]]--;
            c[COMMITTED]++;
        }
        if (n_new == 0) {
            for (int64_t s = t + 1; s <= n_steps; s++)
                memcpy(counts + s * N_STATES, c, sizeof(int32_t) * N_STATES);
            t_last = t;
            break;
        }
        int64_t *tmp = prev_new; prev_new = new_; new_ = tmp;
        n_prev = n_new;
    }
    free(prev_new); free(new_); free(old); free(stamp);
    return t_last;
}
