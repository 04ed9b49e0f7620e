#
# Makefile  Build sipd, its modules, sipctl and the tests
#
# Targets:
#   all      build everything into build/
#   run      install missing packages, build, create the database, run sipd
#   test     install missing packages, build, run every test
#   bench    load benchmarks (long; not part of test), then sipd and
#            Kamailio side by side (test/bench/compare), last sipd nodes
#            on one PostgreSQL (test/bench/nodes)
#   bench-compare  only the side-by-side comparison
#   fuzz     build the libFuzzer harnesses with clang, run each FUZZ_TIME s
#   fuzz-replay  replay the fuzzing seeds and regressions (part of test)
#   layers   no loop of files calling each other (part of test)
#   install  install into $(DESTDIR)$(PREFIX)
#   clean    remove build/ and build-san/
#
# Variables: PREFIX, DESTDIR, CC, SANITIZE=1 (ASan and UBSan, built in
# build-san/), VALGRIND=1 (integration tests run sipd under valgrind),
# CONF (the configuration "make run" uses), FUZZ_TIME (seconds per
# harness, make fuzz), FUZZ_CC (clang-14), COMPARE (options of
# test/bench/compare, e.g. COMPARE=--quick)
#

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/sbin
MODDIR     := $(PREFIX)/lib/sipd/modules
MANDIR     := $(PREFIX)/share/man
EXAMPLEDIR := $(PREFIX)/share/sipd/examples
CONF       ?= etc/sipd.conf

ifneq ($(SANITIZE),)
B          := build-san
else
B          := build
endif
CC         ?= cc

RE_DEFS    := -DHAVE_INTTYPES_H -DHAVE_INET6 -DHAVE_STDBOOL_H \
	      -DUSE_OPENSSL -DUSE_TLS -DHAVE_PTHREAD -DHAVE_GETIFADDRS
RE_CFLAGS  := $(shell pkg-config --cflags libre 2>/dev/null || \
		echo -I/usr/include/re) $(RE_DEFS)

CFLAGS     ?= -O2 -g
CFLAGS     += -std=gnu99 -Wall -Wextra -Wno-unused-parameter \
	      -Wmissing-prototypes -Wshadow -Wcast-align -Wstrict-prototypes \
	      -fno-strict-aliasing -D_GNU_SOURCE \
	      -DSIPD_VERSION=\"$(VERSION)\" \
	      -DSIPD_MODULE_PATH=\"$(MODDIR)\" \
	      -Iinclude -Icore -Ilib -Idaemon $(RE_CFLAGS) $(XML_CFLAGS) -MMD -MP
LDLIBS     := -lre -lsqlite3 -lssl -lcrypto -lpthread -ldl -lm

# libpq, for the store's PostgreSQL engine (lib/store/pg*.c)
PQ_CFLAGS  := $(shell pkg-config --cflags libpq 2>/dev/null || \
		echo -I/usr/include/postgresql)
PQ_LIBS    := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)

# libxml2, for the presence module (PIDF)
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || \
		echo -I/usr/include/libxml2)
XML_LIBS   := $(shell pkg-config --libs libxml-2.0 2>/dev/null || \
		echo -lxml2)

ifneq ($(SANITIZE),)
CFLAGS     += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=address,undefined
endif

# make fuzz builds the harnesses again with clang and libFuzzer
FUZZ_CC    ?= clang-14
FUZZ_TIME  ?= 60
ifneq ($(LIBFUZZER),)
CFLAGS     += -fsanitize=fuzzer-no-link,address,undefined \
	      -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=fuzzer,address,undefined
endif

# the paths compiled in follow PREFIX: rebuild what uses them when it changes
PREFIX_STAMP := $(B)/prefix.stamp
$(shell mkdir -p $(B); echo "$(PREFIX)" | cmp -s - $(PREFIX_STAMP) || \
	echo "$(PREFIX)" > $(PREFIX_STAMP))

CORE_SRCS  := $(wildcard core/*.c core/*/*.c)
CORE_OBJS  := $(patsubst %.c,$(B)/%.o,$(CORE_SRCS))

# the services above the core linked once into sipd, their symbols
# exported to the modules (and into sipctl and the tests): the SQLite
# file (lib/db), the checks of TLS servers (lib/tlspeer), the DNS client
# of the proxy roles (lib/dns), the availability of users (lib/avail),
# the server pools (lib/pool)
DB_SRCS    := $(wildcard lib/db/*.c lib/tlspeer/*.c lib/dns/*.c \
		lib/avail/*.c lib/pool/*.c lib/node/*.c)
DB_OBJS    := $(patsubst %.c,$(B)/%.o,$(DB_SRCS)) $(B)/lib/db/schema.o \
	      $(B)/lib/db/pg_schema.o
DB_LIB     := $(B)/libsipddb.a

# the libraries above the core, linked into the modules that use them
# (and into sipctl and the tests): lib/store is the store of bindings,
# accounts and presence in the database: position-independent, their symbols
# hidden so that two modules linking one library keep their own copy
PROXY_SRCS := $(wildcard lib/proxy/*.c)
PROXY_OBJS := $(patsubst %.c,$(B)/%.o,$(PROXY_SRCS))
PROXY_LIB  := $(B)/libsipdproxy.a
DIGEST_SRCS := $(wildcard lib/digest/*.c)
DIGEST_OBJS := $(patsubst %.c,$(B)/%.o,$(DIGEST_SRCS))
DIGEST_LIB := $(B)/libsipddigest.a
SIPMSG_SRCS := $(wildcard lib/sipmsg/*.c)
SIPMSG_OBJS := $(patsubst %.c,$(B)/%.o,$(SIPMSG_SRCS))
SIPMSG_LIB := $(B)/libsipdsipmsg.a
LIB_STORE_SRCS := $(wildcard lib/store/*.c)
LIB_STORE_OBJS := $(patsubst %.c,$(B)/%.o,$(LIB_STORE_SRCS))
LIB_STORE  := $(B)/lib/libstore.a
LIB_OBJS   := $(PROXY_OBJS) $(DIGEST_OBJS) $(SIPMSG_OBJS) $(LIB_STORE_OBJS)

# the operations (control socket, status, metrics): the daemon's layer
# above the core, also linked into sipctl and the tests
OPS_SRCS   := $(filter-out daemon/main.c,$(wildcard daemon/*.c))
OPS_OBJS   := $(patsubst %.c,$(B)/%.o,$(OPS_SRCS))
OPS_LIB    := $(B)/libsipdops.a
CORE_LIB   := $(B)/libsipdcore.a

MODULES    := $(notdir $(wildcard modules/*))
MOD_SOS    := $(patsubst %,$(B)/modules/%.so,$(MODULES))

SIPCTL_SRCS := $(wildcard tools/sipctl/*.c)
SIPCTL_OBJS := $(patsubst %.c,$(B)/%.o,$(SIPCTL_SRCS))

# module sources without their glue file, for the unit tests
MOD_LIB_SRCS := $(foreach m,$(MODULES),\
		  $(filter-out modules/$(m)/$(m).c,$(wildcard modules/$(m)/*.c)))
MOD_LIB_OBJS := $(patsubst %.c,$(B)/test/obj/%.o,$(MOD_LIB_SRCS))

UNIT_SRCS  := $(wildcard test/unit/*.c)
UNIT_OBJS  := $(patsubst %.c,$(B)/%.o,$(UNIT_SRCS))

CLIENT_SRCS := $(wildcard test/client/*.c)
CLIENT_OBJS := $(patsubst %.c,$(B)/%.o,$(CLIENT_SRCS))

PROGRAMS   := $(B)/sipd $(B)/sipctl $(B)/test/sipd-test $(B)/test/sipc \
	      $(B)/test/libre-version.so

# fuzzing harnesses (test/fuzz): the sip_* ones run the whole core
FUZZ_SIP   := sip_registrar sip_proxy sip_stateless sip_redirect sip_presence
FUZZ_ALL   := $(FUZZ_SIP) digest pidf scan
FUZZ_ROLES_sip_registrar := registrar
FUZZ_ROLES_sip_proxy     := proxy
FUZZ_ROLES_sip_stateless := stateless-proxy
FUZZ_ROLES_sip_redirect  := redirect
FUZZ_ROLES_sip_presence  := presence
FUZZ_SEEDS_digest := digest
FUZZ_SEEDS_pidf   := pidf
FUZZ_SEEDS_scan   := scan
FUZZ_REPLAY := $(patsubst %,$(B)/test/fuzz/fuzz-%,$(FUZZ_ALL))

.PHONY: all layers run test bench bench-compare install clean deps deps-test \
	deps-bench deps-fuzz fuzz fuzz-build fuzz-replay

all: $(PROGRAMS) $(MOD_SOS) $(FUZZ_REPLAY)

# --- set-up -----------------------------------------------------------------

deps:
	@tools/install-deps build

deps-test:
	@tools/install-deps build test

deps-bench:
	@tools/install-deps build test bench

deps-fuzz:
	@tools/install-deps build test fuzz

# --- core and daemon --------------------------------------------------------

$(B)/lib/db/schema.c: db/schema.sql $(wildcard db/migrations/*.sql) \
		tools/embed-schema
	@mkdir -p $(dir $@)
	tools/embed-schema $< > $@

$(B)/lib/db/schema.o: $(B)/lib/db/schema.c
	$(CC) $(CFLAGS) -c $< -o $@

# the PostgreSQL schema, compiled in (db_pg_open() creates the tables)
$(B)/lib/db/pg_schema.c: db/pg/schema.sql \
		$(wildcard db/pg/migrations/*.sql) tools/embed-pg-schema
	@mkdir -p $(dir $@)
	tools/embed-pg-schema $< > $@

$(B)/lib/db/pg_schema.o: $(B)/lib/db/pg_schema.c
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/db/%.o: lib/db/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/tlspeer/%.o: lib/tlspeer/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/dns/%.o: lib/dns/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/avail/%.o: lib/avail/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/pool/%.o: lib/pool/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/lib/node/%.o: lib/node/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(DB_LIB): $(DB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/core/module.o $(B)/daemon/main.o $(B)/core/core.o \
	$(B)/lib/db/part.o: $(PREFIX_STAMP)

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/lib/%.o: lib/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(B)/lib/store/pg.o $(B)/lib/store/pg_%.o $(B)/test/unit/pgtest.o \
	$(B)/test/unit/test_store.o $(B)/lib/db/pg.o $(B)/lib/db/pg_notify.o $(B)/lib/db/pg_wait.o \
	$(B)/lib/db/pg_secret.o $(B)/lib/db/pg_pipe.o $(B)/lib/db/pg_upgrade.o \
	$(B)/lib/db/part.o $(B)/lib/node/node.o: CFLAGS += $(PQ_CFLAGS)

$(PROXY_LIB): $(PROXY_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(DIGEST_LIB): $(DIGEST_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(SIPMSG_LIB): $(SIPMSG_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(OPS_LIB): $(OPS_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/sipd: $(B)/daemon/main.o $(OPS_LIB) $(DB_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(B)/daemon/main.o $(OPS_LIB) \
		-Wl,--whole-archive $(DB_LIB) $(CORE_LIB) \
		-Wl,--no-whole-archive $(LDLIBS) $(PQ_LIBS)

$(LIB_STORE): $(LIB_STORE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# --- modules ----------------------------------------------------------------

$(B)/modules/%.o: modules/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

# the modules that link the store link libpq for its PostgreSQL engine
MODULE_LIBS_presence        := $(XML_LIBS) $(PQ_LIBS)
MODULE_LIBS_proxy           := $(PQ_LIBS)
MODULE_LIBS_stateless_proxy := $(PQ_LIBS)
MODULE_LIBS_location        := $(PQ_LIBS)
MODULE_LIBS_redirect        := $(PQ_LIBS)

# the libraries of lib/ each module links
MODULE_USES_proxy           := $(PROXY_LIB) $(LIB_STORE) $(DIGEST_LIB) \
			       $(SIPMSG_LIB)
MODULE_USES_stateless_proxy := $(PROXY_LIB) $(LIB_STORE) $(DIGEST_LIB) \
			       $(SIPMSG_LIB)
MODULE_USES_auth            := $(DIGEST_LIB) $(SIPMSG_LIB)
MODULE_USES_location        := $(LIB_STORE) $(DIGEST_LIB) $(SIPMSG_LIB)
MODULE_USES_registrar       := $(SIPMSG_LIB)
MODULE_USES_presence        := $(LIB_STORE) $(DIGEST_LIB) $(SIPMSG_LIB)
MODULE_USES_redirect        := $(PROXY_LIB) $(LIB_STORE) $(DIGEST_LIB) \
			       $(SIPMSG_LIB)

define module_rule
$(B)/modules/$(1).so: $(patsubst %.c,$(B)/%.o,$(wildcard modules/$(1)/*.c)) \
		$(MODULE_USES_$(1))
	$$(CC) $$(LDFLAGS) -shared -o $$@ $$^ $$(MODULE_LIBS_$(1))
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

# --- sipctl -----------------------------------------------------------------

$(B)/sipctl: $(SIPCTL_OBJS) $(LIB_STORE) $(DIGEST_LIB) $(SIPMSG_LIB) \
		$(OPS_LIB) $(DB_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $(SIPCTL_OBJS) $(LIB_STORE) $(DIGEST_LIB) \
		$(SIPMSG_LIB) $(OPS_LIB) $(DB_LIB) $(CORE_LIB) $(LDLIBS) \
		$(PQ_LIBS)

# --- tests ------------------------------------------------------------------

$(B)/test/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/test/sipd-test: $(UNIT_OBJS) $(MOD_LIB_OBJS) $(LIB_OBJS) $(OPS_LIB) \
		$(DB_LIB) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(UNIT_OBJS) $(MOD_LIB_OBJS) \
		$(LIB_OBJS) $(OPS_LIB) \
		-Wl,--whole-archive $(DB_LIB) $(CORE_LIB) -Wl,--no-whole-archive \
		$(LDLIBS) $(XML_LIBS) $(PQ_LIBS) $$(pkg-config --libs check)

# the UDP flood of the flood benchmark (make bench)
$(B)/test/floodgen: test/bench/floodgen.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu99 -Wall -Wextra -o $@ $<

# the time of a binding save and a lookup on each engine (make bench)
$(B)/test/storebench: $(B)/test/bench/storebench.o $(LIB_STORE) \
		$(DIGEST_LIB) $(SIPMSG_LIB) $(OPS_LIB) $(DB_LIB) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $< $(LIB_STORE) $(DIGEST_LIB) $(SIPMSG_LIB) \
		$(OPS_LIB) $(DB_LIB) $(CORE_LIB) $(LDLIBS) $(PQ_LIBS)

# the closed-loop OPTIONS load of the scaling benchmark (make bench)
$(B)/test/optload: test/bench/optload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu99 -Wall -Wextra -o $@ $<

# the open-loop call load of test/bench/compare's searches (make bench)
$(B)/test/callload: test/bench/callload.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu99 -Wall -Wextra -o $@ $< -lcrypto

# a libre that says it is another version (LD_PRELOAD, test_daemon.py)
$(B)/test/libre-version.so: test/preload/libre_version.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu99 -Wall -Wextra -fPIC -shared -o $@ $<

$(B)/test/sipc: $(CLIENT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLIENT_OBJS) $(LDLIBS)

# --- fuzzing harnesses: replay drivers, built like the tests -----------------

FUZZ_OBJ    := $(B)/test/fuzz/obj
FUZZ_GLUE   := $(patsubst %,$(FUZZ_OBJ)/glue/%.o,$(MODULES))
FUZZ_COMMON := $(if $(LIBFUZZER),,$(FUZZ_OBJ)/driver.o) $(MOD_LIB_OBJS) \
	       $(LIB_OBJS)
FUZZ_LINK   = -rdynamic $(1) $(OPS_LIB) -Wl,--whole-archive $(DB_LIB) \
	      $(CORE_LIB) -Wl,--no-whole-archive $(LDLIBS) $(XML_LIBS) $(PQ_LIBS)

# each module's glue file, its exports renamed: they are linked together
define fuzz_glue_rule
$(FUZZ_OBJ)/glue/$(1).o: modules/$(1)/$(1).c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -Dexports=exports_$(1) -c $$< -o $$@
endef
$(foreach m,$(MODULES),$(eval $(call fuzz_glue_rule,$(m))))

.SECONDARY:

$(FUZZ_OBJ)/%.o: test/fuzz/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

define fuzz_sip_rule
$(FUZZ_OBJ)/fuzz_$(1).o: test/fuzz/fuzz_sip.c
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -DFUZZ_ROLES='"$$(FUZZ_ROLES_$(1))"' -c $$< -o $$@

$(B)/test/fuzz/fuzz-$(1): $(FUZZ_OBJ)/fuzz_$(1).o $(FUZZ_OBJ)/harness.o \
		$(FUZZ_GLUE) $(FUZZ_COMMON) $(OPS_LIB) $(DB_LIB) $(CORE_LIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$(call FUZZ_LINK,$$(filter %.o,$$^))
endef
$(foreach h,$(FUZZ_SIP),$(eval $(call fuzz_sip_rule,$(h))))

define fuzz_rule
$(B)/test/fuzz/fuzz-$(1): $(FUZZ_OBJ)/fuzz_$(1).o $(FUZZ_COMMON) $(OPS_LIB) \
		$(DB_LIB) $(CORE_LIB)
	$$(CC) $$(LDFLAGS) -o $$@ $$(call FUZZ_LINK,$$(filter %.o,$$^))
endef
$(foreach h,digest pidf scan,$(eval $(call fuzz_rule,$(h))))

# the scanners' harness compares them with libre's (test/unit/scandiff.c)
$(B)/test/fuzz/fuzz-scan: $(B)/test/unit/scandiff.o

# the seeds and every regression input, once each, through each harness
fuzz-replay: $(FUZZ_REPLAY)
	@for h in $(FUZZ_ALL); do \
		case $$h in sip_*) s=sip ;; *) s=$$h ;; esac; \
		dirs=$$(ls -d test/fuzz/seeds/$$s test/fuzz/regress/$$h \
			2>/dev/null); \
		$(B)/test/fuzz/fuzz-$$h $$dirs || exit 1; \
	done

fuzz-build: $(FUZZ_REPLAY)

# libFuzzer: corpora and crashes under build/fuzz/
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory B=build/fuzz CC=$(FUZZ_CC) SANITIZE= \
		LIBFUZZER=1 fuzz-build
	@for h in $(FUZZ_ALL); do \
		case $$h in sip_*) s=sip ;; *) s=$$h ;; esac; \
		mkdir -p build/fuzz/corpus/$$h build/fuzz/crashes/$$h; \
		dirs=$$(ls -d test/fuzz/seeds/$$s test/fuzz/regress/$$h \
			2>/dev/null); \
		echo "fuzz: $$h for $(FUZZ_TIME) s"; \
		build/fuzz/test/fuzz/fuzz-$$h -max_total_time=$(FUZZ_TIME) \
			-timeout=30 -print_final_stats=1 \
			-artifact_prefix=build/fuzz/crashes/$$h/ \
			build/fuzz/corpus/$$h $$dirs \
			> build/fuzz/$$h.log 2>&1 || \
			{ tail -60 build/fuzz/$$h.log; exit 1; }; \
		grep -E '^#[0-9]+.*DONE|stat::' build/fuzz/$$h.log; \
	done

# SANITIZE=1: a report fails the test (run.py collects the integration
# tests' reports); VALGRIND=1: sipdlib starts sipd under valgrind
SAN_ENV    := ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:print_stacktrace=1$\
	      :detect_stack_use_after_return=0 \
	      UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
TEST_ENV   := SIPD_BUILD=$(CURDIR)/$(B) \
	      $(if $(SANITIZE),$(SAN_ENV)) \
	      $(if $(VALGRIND),SIPD_VALGRIND=1 CK_TIMEOUT_MULTIPLIER=4)

# the layers: no loop of files calling each other (tools/layers)
layers: all
	@tools/layers $(B)/core $(B)/daemon
	@tools/layers $(B)/lib
	@tools/layers --each $(B)/modules

# the unit and integration tests run beside a throw-away PostgreSQL server
# (test/pg/pgserver.py, about a second to make and start): SIPD_TEST_PG
# runs the store's tests on its engine too
test: deps-test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory layers
	@$(TEST_ENV) $(MAKE) --no-print-directory fuzz-replay
	@$(TEST_ENV) test/pg/pgserver.py run -- $(B)/test/sipd-test

bench: deps-bench
	@$(MAKE) --no-print-directory all $(B)/test/floodgen \
		$(B)/test/optload $(B)/test/callload $(B)/test/storebench
	@test/bench/run
	@test/bench/pool
	@test/bench/compare $(COMPARE)
	@test/bench/scaling
	@test/bench/store
	@test/bench/nodes

bench-compare: deps-bench
	@$(MAKE) --no-print-directory all $(B)/test/callload
	@test/bench/compare $(COMPARE)

# --- run --------------------------------------------------------------------

run: deps
	@$(MAKE) --no-print-directory all
	$(B)/sipctl -f $(CONF) db init
	exec $(B)/sipd -f $(CONF) -m $(B)/modules

# --- install ----------------------------------------------------------------

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MODDIR) \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(EXAMPLEDIR)
	install -m 755 $(B)/sipd $(B)/sipctl $(DESTDIR)$(BINDIR)
	install -m 644 $(MOD_SOS) $(DESTDIR)$(MODDIR)
	install -m 644 man/sipd.8 man/sipctl.8 $(DESTDIR)$(MANDIR)/man8
	install -m 644 man/sipd.conf.5 $(DESTDIR)$(MANDIR)/man5
	install -m 644 etc/sipd.conf etc/sipd-redirect.conf \
		$(DESTDIR)$(EXAMPLEDIR)
	sed 's|/usr/local/sbin|$(BINDIR)|g' etc/sipd.service \
		> $(DESTDIR)$(EXAMPLEDIR)/sipd.service

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
