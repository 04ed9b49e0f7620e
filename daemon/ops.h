/**
 * @file ops.h  sipd's operations: the control socket, its commands, the
 *              status and the metrics, and the master of the workers,
 *              above the core
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_OPS_H
#define SIPD_OPS_H

#include "core.h"


/* share.c: binding and call events told to the other workers */
typedef int (share_send_h)(uint32_t worker, const uint8_t *p, size_t n);

void share_transport(share_send_h *h);
void share_told(const uint8_t *p, size_t n);
void share_counts(uint64_t *sent, uint64_t *told);


/* status.c */
int  status_print(struct re_printf *pf, bool json);


/* command.c */
int  command_run(struct mbuf *mb, char *line);


/* control.c */
#ifndef SIPD_CONTROL_PATH
#define SIPD_CONTROL_PATH "/run/sipd/sipd.ctl"
#endif

int  control_config(bool apply);
int  control_start(void);
void control_close(void);


/* metrics.c */
int  metrics_config(bool apply);
int  metrics_start(void);
void metrics_close(void);
int  metrics_print(struct re_printf *pf);



/* handoff.c */
int  handoff_start(void);
void handoff_close(void);
void handoff_init(void);


/* master.c */
int  workers_run(bool *worker, void (*started)(int err));
void workers_ready(int err);
int  workers_print(struct re_printf *pf, bool json);


/* ops.c */
void ops_register(void);

#endif
