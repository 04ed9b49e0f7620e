/**
 * @file dns.h  The DNS client of the proxy roles, as the daemon registers
 *              it (the modules' API, sipd_dnsc(), is in sipd.h)
 *
 * Copyright (C) 2026 sipd developers
 */

#ifndef SIPD_DNS_H
#define SIPD_DNS_H

void dns_part_register(void);

#endif
