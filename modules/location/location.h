/**
 * @file location.h  Internal interface of the location module
 *
 * Copyright (C) 2026 sipd developers
 */

/* cache.c */
int  cache_lookup(struct list *bindings, const char *aor, int64_t now);
int  cache_ahead(const char *aor, int64_t now);
int  cache_resize(uint32_t size);
uint64_t cache_hits(void);
void cache_close(void);

/* expire.c */
int  expire_run(int64_t now, uint32_t batch, uint32_t *removed);

/* command.c */
void reg_command_register(void);
void reg_command_unregister(void);
