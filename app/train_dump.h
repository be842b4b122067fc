/* train_dump.h -- pictures of training samples (lectern train --dump-samples). */
#ifndef LEC_TRAIN_DUMP_H
#define LEC_TRAIN_DUMP_H

#include <stdint.h>

#include "lec_dataset.h"

/* Writes n samples of ds (drawn exactly as training draws them, steps
 * 0..n-1 with one sample each) as DIR/TAG-NNNN.png plus DIR/TAG-samples.tsv.
 * Prints errors naming the file; returns 0 or 1. */
int lec_train_dump_samples(const lec_dataset *ds, const char *dir, const char *tag, int n,
                           uint64_t seed);

#endif
