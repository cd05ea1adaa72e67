/* qf_cond.h: the monotonic clock, and condition variables that wait on it
 * (a worker's sleep must not stretch or shrink when the wall clock is set). */
#ifndef QF_COND_H
#define QF_COND_H

#include <pthread.h>
#include <time.h>

/* qf_clock_s reads clock id (CLOCK_MONOTONIC, CLOCK_REALTIME) in seconds. */
double qf_clock_s(clockid_t id);

/* qf_mono_s is the monotonic clock in seconds. */
double qf_mono_s(void);

/* qf_timespec_add_ms advances ts by ms (>= 0) milliseconds. */
void qf_timespec_add_ms(struct timespec *ts, long ms);

/* qf_mono_after sets ts to ms milliseconds after now, monotonic: a deadline
 * for pthread_cond_timedwait on a qf_cond_init_mono condition. */
void qf_mono_after(struct timespec *ts, long ms);

/* qf_timespec_from_s writes t seconds (>= 0) as a timespec. */
void qf_timespec_from_s(double t, struct timespec *ts);

/* qf_cond_init_mono initialises c to time its waits on the monotonic clock.
 * 0 or a negative errno (c then not initialised). */
int qf_cond_init_mono(pthread_cond_t *c);

/* qf_mono_locks_init initialises a mutex and a monotonic condition variable
 * that go together. 0, or a negative errno with neither initialised. */
int qf_mono_locks_init(pthread_mutex_t *m, pthread_cond_t *c);

#endif
