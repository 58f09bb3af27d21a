/*
 * test_channel.c — messages and inboxes (runtime/channel.c): the wire form
 * the network layer will carry (round trip, truncation, bad kinds), inbox
 * order and byte accounting across threads, and dfci_deliver's checks.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "tap.h"

#define PRODUCERS 3
#define PER_PRODUCER 20000

static dfci_inbox inbox;

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < PER_PRODUCER; i++) {
        int64_t v = i;
        dfci_inbox_push(&inbox, dfci_msg_data(0, id, 0, 1, 1, &v, sizeof v));
    }
    return NULL;
}

int main(void)
{
    char err[256];
    dfc_buf b = {0};

    /* Wire form. */
    dfci_msg *m = dfci_msg_data(3, 5, 7, 42, 2, "hello", 5);
    dfci_msg_encode(m, &b);
    dfci_msg *d = dfci_msg_decode(b.data, b.len, err, sizeof err);
    t_ok(b.len == DFCI_MSG_WIRE_HEADER + 5 && d && d->kind == DFCI_MSG_DATA && d->chan == 3 &&
             d->from == 5 && d->dest == 7 && d->epoch == 42 && d->count == 2 && d->len == 5 &&
             memcmp(d->data, "hello", 5) == 0,
         "DATA round trip");
    dfci_msg_free(d);
    t_ok(dfci_msg_decode(b.data, b.len - 1, err, sizeof err) == NULL,
         "a truncated DATA message is refused");
    t_ok(dfci_msg_decode(b.data, 10, err, sizeof err) == NULL,
         "a message shorter than the header is refused");
    b.data[0] = 9;
    t_ok(dfci_msg_decode(b.data, b.len, err, sizeof err) == NULL, "an unknown kind is refused");
    dfci_msg_free(m);
    b.len = 0;
    m = dfci_msg_progress(1, 2, 3, INT64_MAX);
    dfci_msg_encode(m, &b);
    d = dfci_msg_decode(b.data, b.len, err, sizeof err);
    t_ok(d && d->kind == DFCI_MSG_PROGRESS && d->epoch == INT64_MAX && d->len == 0,
         "PROGRESS round trip");
    dfci_msg_free(d);
    dfci_msg_free(m);
    dfc_buf_free(&b);

    /* Inbox: FIFO per producer, byte accounting, across threads. */
    t_ok(dfci_inbox_init(&inbox) == 0, "inbox init");
    pthread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) pthread_create(&th[i], NULL, producer, (void *)(intptr_t)i);
    int next[PRODUCERS] = {0}, got = 0, in_order = 1;
    while (got < PRODUCERS * PER_PRODUCER) {
        dfci_msg *list = dfci_inbox_take(&inbox);
        if (!list) dfci_inbox_wait(&inbox, 5);
        while (list) {
            dfci_msg *nx = list->next;
            int64_t v;
            memcpy(&v, list->data, sizeof v);
            if (v != next[list->from]++) in_order = 0;
            got++;
            dfci_msg_free(list);
            list = nx;
        }
    }
    for (int i = 0; i < PRODUCERS; i++) pthread_join(th[i], NULL);
    t_ok(in_order, "messages of each producer arrive in order");
    t_ok(atomic_load(&inbox.bytes) == 0, "queued bytes return to 0");
    dfci_inbox_push(&inbox, dfci_msg_data(0, 0, 0, 1, 1, "abc", 3));
    t_ok(atomic_load(&inbox.bytes) == 3, "queued bytes count payload");
    dfci_inbox_destroy(&inbox); /* frees the queued message */

    /* dfci_deliver checks indexes and needs the network seam for remote workers. */
    dfc_flow flow = {.name = "t", .nchannels = 1};
    dfci_proc p;
    memset(&p, 0, sizeof p);
    p.flow = &flow;
    p.process_id = 0;
    p.processes = 2;
    p.workers_per_process = 1;
    p.total_workers = 2;
    dfci_inbox local;
    dfci_inbox_init(&local);
    p.inboxes = &local;
    t_ok(dfci_deliver(&p, dfci_msg_progress(0, 1, 0, 5), err, sizeof err) == 0 && local.head &&
             local.head->epoch == 5,
         "deliver to a local worker");
    t_ok(dfci_deliver(&p, dfci_msg_progress(1, 1, 0, 5), err, sizeof err) == -1,
         "a bad channel is refused");
    t_ok(dfci_deliver(&p, dfci_msg_progress(0, 1, 2, 5), err, sizeof err) == -1,
         "a bad destination is refused");
    t_ok(dfci_deliver(&p, dfci_msg_progress(0, 0, 1, 5), err, sizeof err) == -1 &&
             strstr(err, "no network layer"),
         "a remote worker without the network seam is an error");
    dfci_inbox_destroy(&local);

    return t_done();
}
