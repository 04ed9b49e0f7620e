/**
 * @file scandiff.h  sipd's header scanners against libre's decoders
 *
 * Copyright (C) 2026 sipd developers
 */

bool scandiff_ready(void);
unsigned scandiff_run(const struct pl *in);
