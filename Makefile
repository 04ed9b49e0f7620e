#
# Makefile  Build sipd, its modules, sipctl and the tests
#
# Targets:
#   all      build everything into build/
#   run      install missing packages, build, create the database, run sipd
#   test     install missing packages, build, run every test
#   bench    load benchmarks (long; not part of test)
#   install  install into $(DESTDIR)$(PREFIX)
#   clean    remove build/
#
# Variables: PREFIX, DESTDIR, CC, SANITIZE=1 (ASan and UBSan),
# CONF (the configuration "make run" uses)
#

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/sbin
MODDIR     := $(PREFIX)/lib/sipd/modules
MANDIR     := $(PREFIX)/share/man
EXAMPLEDIR := $(PREFIX)/share/sipd/examples
CONF       ?= etc/sipd.conf

B          := build
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
	      -Icore $(RE_CFLAGS) $(XML_CFLAGS) -MMD -MP
LDLIBS     := -lre -lsqlite3 -lssl -lcrypto -lpthread -ldl -lm

# libxml2, for the presence module (PIDF)
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || \
		echo -I/usr/include/libxml2)
XML_LIBS   := $(shell pkg-config --libs libxml-2.0 2>/dev/null || \
		echo -lxml2)

ifneq ($(SANITIZE),)
CFLAGS     += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS    += -fsanitize=address,undefined
endif

# the paths compiled in follow PREFIX: rebuild what uses them when it changes
PREFIX_STAMP := $(B)/prefix.stamp
$(shell mkdir -p $(B); echo "$(PREFIX)" | cmp -s - $(PREFIX_STAMP) || \
	echo "$(PREFIX)" > $(PREFIX_STAMP))

CORE_SRCS  := $(filter-out core/main.c,$(wildcard core/*.c))
CORE_OBJS  := $(patsubst %.c,$(B)/%.o,$(CORE_SRCS)) $(B)/core/schema.o
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

PROGRAMS   := $(B)/sipd $(B)/sipctl $(B)/test/sipd-test $(B)/test/sipc

.PHONY: all run test bench install clean deps deps-test deps-bench

all: $(PROGRAMS) $(MOD_SOS)

# --- set-up -----------------------------------------------------------------

deps:
	@tools/install-deps build

deps-test:
	@tools/install-deps build test

deps-bench:
	@tools/install-deps build test bench

# --- core and daemon --------------------------------------------------------

$(B)/core/schema.c: db/schema.sql $(wildcard db/migrations/*.sql) \
		tools/embed-schema
	@mkdir -p $(dir $@)
	tools/embed-schema $< > $@

$(B)/core/schema.o: $(B)/core/schema.c
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/core/module.o $(B)/core/main.o $(B)/core/core.o: $(PREFIX_STAMP)

$(CORE_LIB): $(CORE_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/sipd: $(B)/core/main.o $(CORE_LIB)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(B)/core/main.o \
		-Wl,--whole-archive $(CORE_LIB) -Wl,--no-whole-archive $(LDLIBS)

# --- modules ----------------------------------------------------------------

$(B)/modules/%.o: modules/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

MODULE_LIBS_presence := $(XML_LIBS)

define module_rule
$(B)/modules/$(1).so: $(patsubst %.c,$(B)/%.o,$(wildcard modules/$(1)/*.c))
	$$(CC) $$(LDFLAGS) -shared -o $$@ $$^ $$(MODULE_LIBS_$(1))
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

# --- sipctl -----------------------------------------------------------------

$(B)/sipctl: $(SIPCTL_OBJS) $(CORE_LIB)
	$(CC) $(LDFLAGS) -o $@ $(SIPCTL_OBJS) $(CORE_LIB) $(LDLIBS)

# --- tests ------------------------------------------------------------------

$(B)/test/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(B)/test/sipd-test: $(UNIT_OBJS) $(MOD_LIB_OBJS) $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $(UNIT_OBJS) $(MOD_LIB_OBJS) \
		-Wl,--whole-archive $(CORE_LIB) -Wl,--no-whole-archive \
		$(LDLIBS) $(XML_LIBS) $$(pkg-config --libs check)

# the UDP flood of the flood benchmark (make bench)
$(B)/test/floodgen: test/bench/floodgen.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=gnu99 -Wall -Wextra -o $@ $<

$(B)/test/sipc: $(CLIENT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(CLIENT_OBJS) $(LDLIBS)

test: deps-test
	@$(MAKE) --no-print-directory all
	@SIPD_BUILD=$(CURDIR)/$(B) $(B)/test/sipd-test

bench: deps-bench
	@$(MAKE) --no-print-directory all $(B)/test/floodgen
	@test/bench/run

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
	rm -rf $(B)

-include $(shell find $(B) -name '*.d' 2>/dev/null)
