# Isthmus build. `make` builds build/isthmusd; see README.md for the rest.
# Sources are found by folder: a new .c file in a module folder is built and
# linked without editing this file; tests/unit/test_*.c become test binaries and
# tests/fuzz/fuzz_*.c libFuzzer targets.

SHELL   := /bin/bash
CC      ?= cc
BUILD   ?= build
PYTEST  ?= /usr/bin/python3 -m pytest
# `make V=1` shows whole command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif

WARN    := -Wall -Wextra -Wshadow -Wpointer-arith -Wcast-qual -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla -Werror
ifeq ($(findstring clang,$(CC)),)
WARN    += -Wno-format-truncation # gcc only; clang has no such warning
endif
HARDEN  := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIE
CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu17 $(WARN) $(HARDEN) -pthread -MMD -MP -I. -I$(BUILD)/gen
override LDFLAGS += -pie -Wl,-z,relro,-z,now -pthread
LIBS    := -lmicrohttpd -lsqlite3 -lssl -lcrypto -lev -ljson-c -lradcli -linih \
           -lurcu-qsbr -lurcu-common -lbpf -lm

MODULES := concentrator esp auth db api
LIB_SRC := $(filter-out concentrator/main.c,$(foreach m,$(MODULES),$(wildcard $(m)/*.c)))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o
MIGRATIONS := $(sort $(wildcard migrations/*.sql))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_SUPPORT := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_SUPPORT_OBJ := $(UNIT_SUPPORT:%.c=$(BUILD)/%.o)

.PHONY: all test unit system system-asan asan fuzz run demo format lint bench clean deps FORCE
all: $(BUILD)/isthmusd

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The migrations are compiled into the binary, so a daemon always carries the
# schema it was built for and can refuse a database that is newer.
# The list of migration files is a prerequisite too, so that adding or
# renaming one (even with an old timestamp) regenerates the C file.
$(BUILD)/gen/migrations.list: FORCE
	@mkdir -p $(dir $@)
	@echo "$(MIGRATIONS)" | cmp -s - $@ || echo "$(MIGRATIONS)" > $@

$(BUILD)/gen/migrations.c: $(MIGRATIONS) $(BUILD)/gen/migrations.list deploy/embed-migrations.sh
	@mkdir -p $(dir $@)
	$(Q)sh deploy/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(CFLAGS) -Wno-missing-prototypes -c $< -o $@

# The XDP program of the AF_XDP receive path, embedded in esp/esp_xdp.c.
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -I/usr/include/$(shell gcc -dumpmachine)
$(BUILD)/gen/esp_xdp.bpf.o: esp/bpf/esp_xdp.bpf.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BPF     $<")
	$(Q)clang $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/esp/esp_xdp.o: $(BUILD)/gen/esp_xdp.bpf.o
$(BUILD)/esp/esp_xdp.o: override CFLAGS += -DESP_XDP_OBJ='"$(BUILD)/gen/esp_xdp.bpf.o"'

$(BUILD)/libisthmus.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/isthmusd: $(BUILD)/concentrator/main.o $(BUILD)/libisthmus.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(UNIT_SUPPORT_OBJ) $(BUILD)/libisthmus.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

system: $(BUILD)/isthmusd
	ISTHMUS_BIN=$${ISTHMUS_BIN:-$(abspath $(BUILD))/isthmusd} \
	  $(PYTEST) -q -ra -p no:cacheprovider tests/system

# Everything, as CI runs it: dependencies (quick when present), format and
# static checks, the build, unit tests, unit tests under sanitizers, bounded
# fuzzing, system tests, system tests against a sanitizer build.
test: deps
	$(MAKE) lint
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) asan
	$(MAKE) fuzz FUZZ_SECONDS=$(FUZZ_SECONDS_CI)
	$(MAKE) system
	$(MAKE) system-asan
FUZZ_SECONDS_CI ?= 15

# Unit tests under AddressSanitizer and UndefinedBehaviorSanitizer.
ASAN_BUILD ?= build-asan
ASAN_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
ASAN_LDFLAGS := -fsanitize=address,undefined
asan:
	$(MAKE) BUILD=$(ASAN_BUILD) CC=clang CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="$(ASAN_LDFLAGS)" unit

# System tests against an isthmusd built with ASan and UBSan (the objects of
# `make asan`): a sanitizer report aborts the daemon, or makes it exit non-zero
# at stop (LeakSanitizer), and the harness fails the test (lib/isthmusd.py
# asserts exit 0). Every system test that runs isthmusd, less the ones that
# only exercise the reference peers, the C ESP peer or the contract linter.
SYSTEM_ASAN_SKIP ?= test_radius_relay.py test_radius_fixture.py test_strongswan_rig.py \
  test_esp_io.py test_api_contract.py
SYSTEM_ASAN_TESTS ?= $(filter-out $(addprefix tests/system/,$(SYSTEM_ASAN_SKIP)), \
  $(wildcard tests/system/test_*.py))
system-asan:
	$(MAKE) BUILD=$(ASAN_BUILD) CC=clang CFLAGS="$(ASAN_CFLAGS)" LDFLAGS="$(ASAN_LDFLAGS)" \
	  $(ASAN_BUILD)/isthmusd
	ISTHMUS_BIN=$(abspath $(ASAN_BUILD))/isthmusd \
	  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(PYTEST) -q -ra -p no:cacheprovider $(SYSTEM_ASAN_TESTS)

# libFuzzer targets, each run for FUZZ_SECONDS (bounded; longer runs: raise it).
FUZZ_SECONDS ?= 20
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BUILD ?= build-fuzz
fuzz:
	@set -e; for f in $(FUZZ_SRC); do n=$$(basename $$f .c); \
	  $(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" $(FUZZ_BUILD)/fuzz/$$n; \
	  mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  seeds=tests/fuzz/seeds/$${n#fuzz_}; [ -d $$seeds ] || seeds=; \
	  dict=tests/fuzz/$${n#fuzz_}.dict; [ -f $$dict ] && dict=-dict=$$dict || dict=; \
	  echo "== $$n for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_BUILD)/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024 \
	    -max_len=65536 $$dict $(FUZZ_BUILD)/corpus/$$n $$seeds 2>&1 | tail -n 3; \
	  test $${PIPESTATUS[0]:-0} -eq 0; done

$(FUZZ_BUILD)/fuzz/%: $(BUILD)/tests/fuzz/%.o $(BUILD)/libisthmus.a
	@mkdir -p $(dir $@)
	$(CC) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LIBS)

run: deps
	$(MAKE) all
	@mkdir -p var
	@[ -f var/isthmus.conf ] || sed -e 's|@VAR@|$(CURDIR)/var|g' deploy/isthmus.conf.dev > var/isthmus.conf
	$(BUILD)/isthmusd -c var/isthmus.conf

# The demo: FreeRADIUS, isthmusd and a strongSwan client in namespaces; a
# tenant made through the API; a ping through the tunnel; then cleanup.
demo: deps
	$(MAKE) all
	/usr/bin/python3 deploy/demo.py

deps:
	bash deploy/install-deps.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

lint:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	  --inline-suppr -I. -i esp/bpf $(MODULES) # esp/bpf: BPF C, built by clang -target bpf

bench: ; $(MAKE) -C bench  # side-by-side benchmarks (root); see bench/README.md

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

FORCE:
