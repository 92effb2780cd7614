/* Made-up sessions for the API benchmark (bench/sessions): see
 * bench_inject.c. Does nothing unless built with -DISTHMUS_BENCH_SESSIONS. */
#ifndef ISTHMUS_BENCH_INJECT_H
#define ISTHMUS_BENCH_INJECT_H

struct registry;
struct stats;

void bench_inject_sessions(struct registry *reg, struct stats *st);

#endif
