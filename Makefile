# modeld: one GNU Makefile. `make` builds build/modeld and build/modelctl;
# `make test` runs unit, integration and fuzz-replay suites, the format and
# lint checks, then the unit and integration suites again under ASan+UBSan,
# the unit and concurrency-heavy integration tests under TSan,
# and ends with one "N passed, N failed" line.

PREFIX    ?= /usr/local
CC        ?= gcc
BUILD     ?= build
SANITIZE  ?=
VERSION   := 0.1.0
PORT      ?= 8080

WARN      := -Wall -Wextra -Werror -Wstrict-prototypes -Wmissing-prototypes \
             -Wold-style-definition -Wpointer-arith -Wvla -Wwrite-strings \
             -Wformat=2 -Wimplicit-fallthrough -Wno-format-truncation
# -Wno-format-truncation: error messages and paths go into fixed buffers with
# snprintf on purpose; a cut message is the intended outcome, not a bug.
CFLAGS    ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -DMD_VERSION='"$(VERSION)"' $(CFLAGS) $(WARN) -Isrc -pthread \
             -MMD -MP $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer)
LIBS      := -lmicrohttpd -ljansson -lyaml -lxgboost -lcurl -lsqlite3 -lcrypto -lm -pthread
LDFLAGS   += $(if $(SANITIZE),-fsanitize=$(SANITIZE))

SRC       := $(sort $(wildcard src/*/*.c))
OBJ       := $(SRC:%.c=$(BUILD)/%.o)
CLI_SRC   := $(sort $(wildcard cli/*.c))
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
UTIL_OBJ  := $(filter $(BUILD)/src/util/%.o,$(OBJ))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
# The dashboard's files (ui/), built into modeld by scripts/embed.c (api/ui.h).
UI_FILES  := $(sort $(wildcard ui/*))
UI_GEN    := $(BUILD)/gen/ui_assets.c
OBJ       += $(BUILD)/gen/ui_assets.o

.PHONY: all install demo test test-quick test-unit test-integration test-fuzz test-asan \
        fuzz deps clean format-check lint check-layers check-tree bench tsan

all: $(BUILD)/modeld $(BUILD)/modelctl

$(BUILD)/modeld: $(OBJ) $(BUILD)/src/main.o
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/modelctl: $(CLI_OBJ) $(UTIL_OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/embed: scripts/embed.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<

$(UI_GEN): $(UI_FILES) $(BUILD)/embed
	@mkdir -p $(dir $@)
	$(BUILD)/embed $@ $(UI_FILES)

$(BUILD)/gen/ui_assets.o: $(UI_GEN)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Unit tests link every module object (not main) and cmocka.
$(BUILD)/tests/test_%: tests/unit/test_%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DMD_UNIT_TEST -o $@ $< $(OBJ) $(LIBS) -lcmocka $(LDFLAGS)
# test_loadcheck and test_control run the modeld built beside them as their helper process.
$(BUILD)/tests/test_loadcheck $(BUILD)/tests/test_control: $(BUILD)/modeld

# Fuzz targets: clang + libFuzzer, always with ASan+UBSan, objects built apart.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -DMD_VERSION='"$(VERSION)"' -g -O1 -Isrc -pthread \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all
FUZZ_OBJ    := $(SRC:%.c=$(BUILD)/fuzzobj/%.o) $(BUILD)/fuzzobj/gen/ui_assets.o
# Kept between runs: make would otherwise delete them as intermediate files.
.SECONDARY: $(FUZZ_OBJ)
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<
$(BUILD)/fuzzobj/gen/ui_assets.o: $(UI_GEN)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c -o $@ $<
# The headers a target includes (tests/fuzz/*.h too) are listed in FUZZ_DEP, included below.
FUZZ_DEP    := $(FUZZ_SRC:%.c=$(BUILD)/fuzzobj/%.d)
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJ)
	@mkdir -p $(dir $@) $(BUILD)/fuzzobj/tests/fuzz
	clang $(FUZZ_CFLAGS) -MMD -MP -MF $(BUILD)/fuzzobj/tests/fuzz/fuzz_$*.d -MT $@ \
	    -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJ) $(LIBS)

# Micro-benchmarks: bench/<name>.c linked like a unit test, without cmocka.
$(BUILD)/bench/%: bench/%.c $(OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(OBJ) $(LIBS) $(LDFLAGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/modeld $(BUILD)/modelctl $(DESTDIR)$(PREFIX)/bin/

deps:
	@sh scripts/deps.sh

# `make demo PORT=9090` serves on another port of 127.0.0.1.
demo:
	@sh scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@mkdir -p var
	$(BUILD)/modeld --repo examples/repo --listen 127.0.0.1:$(PORT) --data var --poll 2

test:
	@sh scripts/deps.sh test
	@sh scripts/test.sh

test-quick: all $(UNIT_BIN)
	@QUICK=1 SKIP_ASAN=1 sh scripts/test.sh

test-unit: $(UNIT_BIN)

# The ThreadSanitizer tier alone (also part of `make test`).
tsan:
	@TIERS=tsan sh scripts/test.sh

# Built by `make test` before the sanitizer pass; kept apart from the daemon build.
test-fuzz: $(FUZZ_BIN)

fuzz: $(BUILD)/fuzz/fuzz_$(FUZZ)
	@mkdir -p $(BUILD)/fuzz/work-$(FUZZ)
	$(BUILD)/fuzz/fuzz_$(FUZZ) -max_total_time=$(or $(SECS),60) \
	    -artifact_prefix=$(BUILD)/fuzz/ $(BUILD)/fuzz/work-$(FUZZ) tests/fuzz/corpus/$(FUZZ)

check-layers:
	@sh scripts/check-layers.sh

# Nothing in the checkout reads a path outside it; licence lines match LICENSE.
check-tree:
	@/usr/bin/python3 scripts/check-tree.py

# Both run by scripts/test.sh too; scripts/lint.sh holds the file lists and flags.
format-check:
	@sh scripts/lint.sh format

lint:
	@sh scripts/lint.sh cppcheck
	@sh scripts/lint.sh tidy

# bench/all.sh installs what it needs (scripts/deps.sh bench), then builds.
bench:
	@sh bench/all.sh

clean:
	rm -rf build build-asan build-tsan

-include $(OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(BUILD)/src/main.d $(FUZZ_OBJ:.o=.d) $(FUZZ_DEP) \
         $(UNIT_BIN:%=%.d)
# TLS on the listener: net/tls.c speaks to libmicrohttpd's GnuTLS directly
LIBS += -lgnutls

# Hardening (part harden): stack protector, PIE, full RELRO (read-only
# relocations and every symbol bound at start), a non-executable stack,
# and _FORTIFY_SOURCE=2, which needs the optimiser and is left out of
# sanitizer builds (the sanitizers check those calls themselves) and -O0.
# tests/integration/t5100-hardening.py reads the ELF of both binaries.
HARDEN_CFLAGS := -fstack-protector-strong -fPIE \
                 $(if $(SANITIZE)$(filter -O0,$(CFLAGS)),,-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2)
ALL_CFLAGS    += $(HARDEN_CFLAGS)
LDFLAGS       += -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack

# `make fuzz-all SECS=N`: every fuzz target N seconds (default 10) from its
# seed corpus, a table of executions and crashes; non-zero on any crash.
.PHONY: fuzz-all
fuzz-all: $(FUZZ_BIN)
	@BUILD=$(BUILD) SECS=$(or $(SECS),10) sh scripts/fuzz-all.sh

# `make screenshots`: the dashboard's browser test (t8110, headless Chromium
# against a real daemon with traffic) saves what it saw of each page at
# 1280x800 and at 390x844 as docs/img/dashboard-*.png, the pictures of
# docs/dashboard.md. Needs chromium, chromium-driver and python3-selenium
# (scripts/deps.sh test).
.PHONY: screenshots
screenshots: all
	@mkdir -p docs/img
	@MODELD_SCREENSHOTS=docs/img /usr/bin/python3 tests/integration/run.py t8110-dashboard-browser.py
	@ls -l docs/img/dashboard-*.png | awk '{n++; s+=$$5} END {printf "%d screenshots, %d bytes\n", n, s}'
