/* test_pool.c - the worker pool under tincan serve: FIFO order, a bounded
 * queue, canceling a queued task (it never runs) and a running one (its
 * cancel fd fires), closing, waiting for idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "../runner/pool.h"

#define WAIT_MS 10000

struct task {
    struct pool_task t;
    int id;
    atomic_int started, ran, saw_cancel;
    int block; /* wait on cancel_fd (at most WAIT_MS) before returning */
};

static int order[16];
static atomic_int norder;

static void run(struct pool_task *pt, int cancel_fd)
{
    struct task *t = (struct task *)pt;
    struct pollfd p = {.fd = cancel_fd, .events = POLLIN};

    atomic_store(&t->started, 1);
    if (t->block && poll(&p, 1, WAIT_MS) == 1)
        atomic_store(&t->saw_cancel, 1);
    order[atomic_fetch_add(&norder, 1)] = t->id;
    atomic_store(&t->ran, 1);
}

static void wait_started(struct task *t)
{
    for (int i = 0; i < WAIT_MS && !atomic_load(&t->started); i++)
        usleep(1000);
    assert_true(atomic_load(&t->started));
}

static void init(struct task *t, int id, int block)
{
    memset(t, 0, sizeof(*t));
    t->t.run = run;
    t->id = id;
    t->block = block;
}

static void test_tasks_run_in_order_and_the_queue_is_bounded(void **state)
{
    struct task blocker, t[3];
    struct pool *p;
    unsigned queued, running;
    char err[128];

    (void)state;
    atomic_store(&norder, 0);
    assert_int_equal(pool_create(&p, 1, 2, err, sizeof(err)), 0);
    init(&blocker, 0, 1);
    assert_int_equal(pool_submit(p, &blocker.t), 0);
    wait_started(&blocker);
    for (int i = 0; i < 3; i++)
        init(&t[i], i + 1, 0);
    assert_int_equal(pool_submit(p, &t[0].t), 0);
    assert_int_equal(pool_submit(p, &t[1].t), 0);
    assert_int_equal(pool_submit(p, &t[2].t), -EAGAIN);
    pool_counts(p, &queued, &running);
    assert_int_equal(queued, 2);
    assert_int_equal(running, 1);
    assert_int_equal(pool_cancel(p, &blocker.t), POOL_WAS_RUNNING);
    assert_int_equal(pool_wait_idle(p, WAIT_MS), 0);
    assert_true(atomic_load(&blocker.saw_cancel));
    assert_int_equal(atomic_load(&norder), 3);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 2);
    assert_int_equal(pool_cancel(p, &t[0].t), -ENOENT); /* it has ended */
    pool_destroy(p);
}

static void test_a_canceled_queued_task_never_runs(void **state)
{
    struct task blocker, a, b;
    struct pool *p;
    char err[128];

    (void)state;
    atomic_store(&norder, 0);
    assert_int_equal(pool_create(&p, 1, 8, err, sizeof(err)), 0);
    init(&blocker, 0, 1);
    init(&a, 1, 0);
    init(&b, 2, 0);
    assert_int_equal(pool_submit(p, &blocker.t), 0);
    wait_started(&blocker);
    assert_int_equal(pool_submit(p, &a.t), 0);
    assert_int_equal(pool_submit(p, &b.t), 0);
    assert_int_equal(pool_cancel(p, &a.t), POOL_WAS_QUEUED);
    assert_int_equal(pool_cancel(p, &a.t), -ENOENT);
    assert_int_equal(pool_cancel(p, &blocker.t), POOL_WAS_RUNNING);
    assert_int_equal(pool_wait_idle(p, WAIT_MS), 0);
    assert_false(atomic_load(&a.ran));
    assert_true(atomic_load(&b.ran));
    /* The cancel meant for the blocker does not reach the next task. */
    init(&a, 3, 1);
    assert_int_equal(pool_submit(p, &a.t), 0);
    wait_started(&a);
    usleep(50000);
    assert_false(atomic_load(&a.ran));
    assert_int_equal(pool_cancel(p, &a.t), POOL_WAS_RUNNING);
    assert_int_equal(pool_wait_idle(p, WAIT_MS), 0);
    pool_destroy(p);
}

static void test_a_closed_pool_refuses_and_still_runs_what_it_has(void **state)
{
    struct task blocker, a, c;
    struct pool *p;
    char err[128];

    (void)state;
    atomic_store(&norder, 0);
    assert_int_equal(pool_create(&p, 1, 8, err, sizeof(err)), 0);
    init(&blocker, 0, 1);
    init(&a, 1, 0);
    init(&c, 2, 0);
    assert_int_equal(pool_submit(p, &blocker.t), 0);
    wait_started(&blocker);
    assert_int_equal(pool_submit(p, &a.t), 0);
    pool_close(p);
    assert_int_equal(pool_submit(p, &c.t), -ESHUTDOWN);
    assert_int_equal(pool_wait_idle(p, 50), -ETIMEDOUT);
    pool_cancel(p, &blocker.t);
    pool_destroy(p); /* joins after the queued task ran */
    assert_true(atomic_load(&a.ran));
    assert_false(atomic_load(&c.ran));
}

static void test_bad_worker_counts_are_refused(void **state)
{
    struct pool *p;
    char err[128];

    (void)state;
    assert_int_equal(pool_create(&p, 0, 8, err, sizeof(err)), -EINVAL);
    assert_string_equal(err, "0 workers: give 1 to 1024");
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tasks_run_in_order_and_the_queue_is_bounded),
        cmocka_unit_test(test_a_canceled_queued_task_never_runs),
        cmocka_unit_test(test_a_closed_pool_refuses_and_still_runs_what_it_has),
        cmocka_unit_test(test_bad_worker_counts_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
