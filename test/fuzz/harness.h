/**
 * @file harness.h  The sipd core in the fuzzing harnesses' own process
 *
 * Copyright (C) 2026 sipd developers
 */

int  fuzz_core_start(const char *roles, const char *extra);
void fuzz_core_input(const uint8_t *data, size_t size);
void fuzz_core_stop(void);

int  LLVMFuzzerInitialize(int *argc, char ***argv);
int  LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
