/**
 * @file capture.h  Capture log lines in a test
 *
 * Copyright (C) 2026 sipd developers
 */

void capture_start(void);
void capture_stop(void);
bool capture_has(const char *substr);
const char *capture_text(void);
