/**
 * @file tlspeer.h  The checks of the TLS servers sipd connects to, as
 *                  the daemon registers them (the modules' API is in
 *                  sipd.h)
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef TLSPEER_H
#define TLSPEER_H

void tls_peer_part_register(void);

#endif
