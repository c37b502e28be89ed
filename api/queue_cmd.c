/*
 * queue_cmd.c - `tincan queue --redis URL [--prefix P] [--json] status | dead
 * [-n N] | requeue ID`: the fleet queue's depth, pending jobs per consumer,
 * dead letters and the workers seen recently; the dead letters with their
 * reasons; one dead letter put back on the stream.
 */
#include "queue_cmd.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runner/queue.h"
#include "../runner/units.h"
#include "report.h"

#define ERR_MAX          768
#define DEFAULT_DEAD_MAX 100
#define DEAD_MAX         1000000
#define RECENT_S         60 /* a worker seen this recently is "up" */

static const char queue_usage[] =
    "usage: tincan queue --redis URL [--prefix P] [--json] status\n"
    "       tincan queue --redis URL [--prefix P] [--json] dead [-n N]\n"
    "       tincan queue --redis URL [--prefix P] requeue ID\n"
    "\n"
    "What the fleet's queue on Redis holds (see tincan worker):\n"
    "  status      jobs not finished, pending (taken, not acked) per worker,\n"
    "              dead letters, and the workers seen in the last minute\n"
    "  dead        the dead-lettered jobs (the oldest N, default 100): id,\n"
    "              queue id, deliveries and the reason\n"
    "  requeue ID  put dead letter ID (its id or its queue id) back on the\n"
    "              stream, dropping the error result it was given\n"
    "\n"
    "options:\n"
    "  --redis URL   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or\n"
    "                unix:///PATH[?db=N]\n"
    "  --prefix P    key prefix (default tincan)\n"
    "  --json        one JSON object on stdout instead of text\n"
    "  -n N          dead: at most N dead letters\n"
    "  -h, --help    this text\n"
    "\n"
    "exit status: 0 done; 1 requeue found no such dead letter; 123 Redis\n"
    "failed; 125 bad usage, or Redis unreachable or refusing the "
    "credentials.\n";

enum { OPT_REDIS = 256, OPT_PREFIX, OPT_JSON };

struct qcmd {
    const char *url, *prefix;
    int json;
    size_t dead_max;
};

static int print_json(json_t *o)
{
    int rc = o ? json_dumpf(o, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) : -1;

    json_decref(o);
    if (rc)
        return REPORT_EXIT_INTERNAL_ERROR;
    putchar('\n');
    return 0;
}

static int cmd_status(const struct qcmd *c, struct queue *q)
{
    struct queue_status st;
    char err[ERR_MAX];
    size_t up = 0;

    if (queue_status_get(q, &st, err, sizeof(err))) {
        fprintf(stderr, "tincan queue: %s\n", err);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    for (size_t i = 0; i < st.n_workers; i++)
        up += st.workers[i].seen_s <= RECENT_S;
    if (c->json) {
        json_t *o = json_object(), *cs = json_array(), *ws = json_array();
        for (size_t i = 0; i < st.n_consumers; i++)
            json_array_append_new(
                cs, json_pack("{s:s,s:I,s:I}", "name", st.consumers[i].name,
                              "pending", (json_int_t)st.consumers[i].pending,
                              "idle_ms", (json_int_t)st.consumers[i].idle_ms));
        for (size_t i = 0; i < st.n_workers; i++)
            json_array_append_new(
                ws, json_pack("{s:s,s:I,s:I,s:I}", "name", st.workers[i].name,
                              "seen_s_ago", (json_int_t)st.workers[i].seen_s,
                              "running", (json_int_t)st.workers[i].running,
                              "done", (json_int_t)st.workers[i].done));
        json_object_set_new(o, "prefix", json_string(queue_prefix(q)));
        json_object_set_new(o, "depth", json_integer((json_int_t)st.depth));
        json_object_set_new(o, "pending", json_integer((json_int_t)st.pending));
        json_object_set_new(o, "waiting", json_integer((json_int_t)st.lag));
        json_object_set_new(o, "dead", json_integer((json_int_t)st.dead));
        json_object_set_new(o, "consumers", cs);
        json_object_set_new(o, "workers", ws);
        queue_status_free(&st);
        return print_json(o);
    }
    printf("queue %s on %s\n", queue_prefix(q), queue_where(q));
    printf("jobs not finished: %" PRIu64 " (%" PRIu64 " waiting, %" PRIu64
           " taken)\n",
           st.depth, st.lag, st.pending);
    printf("dead letters: %" PRIu64 "%s\n", st.dead,
           st.dead ? " (see 'tincan queue dead')" : "");
    for (size_t i = 0; i < st.n_consumers; i++)
        printf("consumer %s: %" PRIu64 " pending, idle %" PRIu64 " ms\n",
               st.consumers[i].name, st.consumers[i].pending,
               st.consumers[i].idle_ms);
    printf("workers seen in the last %ds: %zu\n", RECENT_S, up);
    for (size_t i = 0; i < st.n_workers; i++)
        if (st.workers[i].seen_s <= RECENT_S)
            printf("worker %s: seen %" PRId64 "s ago, %" PRIu64
                   " running, %" PRIu64 " done\n",
                   st.workers[i].name, st.workers[i].seen_s,
                   st.workers[i].running, st.workers[i].done);
    queue_status_free(&st);
    return 0;
}

static int cmd_dead(const struct qcmd *c, struct queue *q)
{
    struct queue_dead *d;
    char err[ERR_MAX];
    size_t n;

    if (queue_dead_list(q, c->dead_max, &d, &n, err, sizeof(err))) {
        fprintf(stderr, "tincan queue: %s\n", err);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    if (c->json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, json_pack("{s:s,s:s?,s:I,s:s?}", "id",
                                               d[i].id, "qid", d[i].qid,
                                               "deliveries",
                                               (json_int_t)d[i].deliveries,
                                               "reason", d[i].reason));
        queue_dead_free(d, n);
        return print_json(json_pack("{s:o}", "dead", a));
    }
    for (size_t i = 0; i < n; i++)
        printf("%s qid=%s deliveries=%" PRIu64 " reason: %s\n", d[i].id,
               d[i].qid ? d[i].qid : "(none)", d[i].deliveries,
               d[i].reason ? d[i].reason : "(none)");
    if (!n)
        printf("no dead letters in %s:dead\n", queue_prefix(q));
    queue_dead_free(d, n);
    return 0;
}

static int cmd_requeue(struct queue *q, const char *id)
{
    char err[ERR_MAX];
    int rc = queue_requeue(q, id, err, sizeof(err));

    if (rc == -ENOENT) {
        fprintf(stderr, "tincan queue: %s\n", err);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "tincan queue: %s\n", err);
        return REPORT_EXIT_INTERNAL_ERROR;
    }
    printf("requeued %s\n", id);
    return 0;
}

int queue_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"redis", required_argument, NULL, OPT_REDIS},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct qcmd c = {.dead_max = DEFAULT_DEAD_MAX};
    struct queue *q = NULL;
    char err[ERR_MAX];
    const char *sub;
    unsigned long n;
    int ch, rc;

    opterr = 0;
    optind = 1;
    /* "+": options stop at the subcommand; its own come after it. */
    while ((ch = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        switch (ch) {
        case OPT_REDIS:
            c.url = optarg;
            break;
        case OPT_PREFIX:
            c.prefix = optarg;
            break;
        case OPT_JSON:
            c.json = 1;
            break;
        case 'h':
            fputs(queue_usage, stdout);
            return 0;
        case ':':
            return report_usage_error(
                "option '%s' needs a value; see 'tincan queue --help'",
                argv[optind - 1]);
        default:
            return report_usage_error(
                "unknown option '%s'; see 'tincan queue --help'",
                argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return report_usage_error("%s", "no subcommand: give status, dead or "
                                        "requeue ID; see 'tincan queue "
                                        "--help'");
    sub = argv[optind++];
    if (!strcmp(sub, "dead") && optind + 1 < argc &&
        !strcmp(argv[optind], "-n")) {
        if (units_parse_count(argv[optind + 1], 1, DEAD_MAX, &n))
            return report_usage_error("-n %s: give a number from 1 to %d",
                                      argv[optind + 1], DEAD_MAX);
        c.dead_max = n;
        optind += 2;
    }
    if (strcmp(sub, "status") && strcmp(sub, "dead") && strcmp(sub, "requeue"))
        return report_usage_error("unknown subcommand '%s': give status, dead "
                                  "or requeue ID",
                                  sub);
    if (!strcmp(sub, "requeue") && optind >= argc)
        return report_usage_error("%s", "requeue needs the ID of a dead letter "
                                        "(see 'tincan queue dead')");
    if (optind + !strcmp(sub, "requeue") < argc)
        return report_usage_error("unexpected argument '%s'",
                                  argv[optind + !strcmp(sub, "requeue")]);
    if (!c.url)
        return report_usage_error("%s", "no queue: give --redis URL "
                                        "(redis://HOST:PORT or unix:///PATH)");
    rc = queue_connect(c.url, c.prefix, &q, err, sizeof(err));
    if (rc) {
        queue_close(q);
        return report_usage_error("%s", err);
    }
    if (!strcmp(sub, "status"))
        rc = cmd_status(&c, q);
    else if (!strcmp(sub, "dead"))
        rc = cmd_dead(&c, q);
    else
        rc = cmd_requeue(q, argv[optind]);
    queue_close(q);
    return rc;
}
