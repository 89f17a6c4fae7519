# Parley build. `make run` starts a server, `make test` runs every test (what CI runs).
#
# Layout: src/server -> parleyd, src/lib -> libparley (public header include/parley.h),
# src/cli -> parley, bench -> parley-bench (and bench/relay.c -> parley-relay, the bare
# TLS WebSocket relay the peers benchmark compares against), src/common is compiled into all.
# proto/parley.proto is compiled by protoc-c into $(B)/gen. Output lives only in $(B).
#
# SAN=1 builds everything with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan.
#
# The web client (web/, TypeScript) is built into web/dist whenever web/node_modules exists;
# `make web-deps` (run by `make run` and `make test`) installs it with `npm ci` from
# web/package-lock.json. web/dist is the same for both builds.

SAN ?= 0
ifeq ($(SAN),1)
B ?= build-asan
SANFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT = -O1 -g
else
B ?= build
SANFLAGS =
OPT = -O2 -g
endif

CC ?= cc
PKGS = libwebsockets libprotobuf-c libsodium openssl sqlite3 libuv
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# Hardening, in both builds: stack canaries in every function with an array or an address
# taken, stack clash probes, CET branch protection on x86_64, position-independent executables,
# a read-only GOT resolved at start (relro + now), and format strings that are not literals
# are errors. _FORTIFY_SOURCE=2 (copies checked against the destination's size, down to a
# struct member; it needs -O1 or more) only in the normal build: ASan's runtime intercepts
# only the printf family of the __*_chk functions FORTIFY substitutes (nm -D libasan.so.8),
# so __memcpy_chk, __strncat_chk, __read_chk, ... would escape ASan's checks (Ubuntu's gcc
# drops FORTIFY under -fsanitize=address for this reason). ASan checks whole objects only, so
# the normal build, which runs every test too, keeps FORTIFY's per-member bounds: they are
# what caught sdp.c writing past the mline member.
HARDEN_CFLAGS = -fstack-protector-strong -fstack-clash-protection -fPIE -Wformat -Werror=format-security
ifneq ($(filter x86_64-%,$(shell $(CC) -dumpmachine)),)
HARDEN_CFLAGS += -fcf-protection
endif
ifneq ($(SAN),1)
HARDEN_CFLAGS += -U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=2
endif
HARDEN_LDFLAGS = -Wl,-z,relro,-z,now
CFLAGS_COMMON = -std=c11 -D_GNU_SOURCE $(OPT) $(SANFLAGS) $(HARDEN_CFLAGS) -pthread -MMD -MP \
	-Iinclude -Isrc/common -I$(B)/gen $(PKG_CFLAGS)
CFLAGS_OURS = $(CFLAGS_COMMON) -Wall -Wextra -Wno-unused-parameter -Wshadow -Werror=implicit-function-declaration \
	-Wformat=2 -Wvla
# LDFLAGS_SO links libparley.so (-fPIC -shared), LDFLAGS_ALL every executable (-pie).
LDFLAGS_SO = $(SANFLAGS) -pthread $(HARDEN_LDFLAGS)
LDFLAGS_ALL = $(LDFLAGS_SO) -pie
LIBS = $(PKG_LIBS) -lm
# The bench's peer targets: XMPP (libstrophe), MQTT (libmosquitto), NATS (the NATS C client).
BENCH_PKGS = libstrophe libmosquitto libnats
BENCH_CFLAGS := $(shell pkg-config --cflags $(BENCH_PKGS) 2>/dev/null)
BENCH_LIBS := $(shell pkg-config --libs $(BENCH_PKGS) 2>/dev/null)
# parley-sfu (src/sfu) alone needs zlib (STUN FINGERPRINT is zlib's crc32); its SRTP is on
# OpenSSL. libsrtp2 is the reference implementation test_sfu_srtp checks it against.
SFU_PKGS = zlib
SRTP_REF_CFLAGS := $(shell pkg-config --cflags libsrtp2 2>/dev/null)
SRTP_REF_LIBS := $(shell pkg-config --libs libsrtp2 2>/dev/null)
SFU_CFLAGS := $(shell pkg-config --cflags $(SFU_PKGS) 2>/dev/null)
SFU_LIBS := $(shell pkg-config --libs $(SFU_PKGS) 2>/dev/null)
# parley-sfu-bench's Janus target speaks Janus's REST API: libcurl and jansson.
SFU_BENCH_PKGS = libcurl jansson
SFU_BENCH_CFLAGS := $(shell pkg-config --cflags $(SFU_BENCH_PKGS) 2>/dev/null)
SFU_BENCH_LIBS := $(shell pkg-config --libs $(SFU_BENCH_PKGS) 2>/dev/null)
# tests/tools/media_check decodes captured VP8 with libvpx (the group-call capture test).
VPX_LIBS := $(shell pkg-config --libs vpx 2>/dev/null)

GEN_C = $(B)/gen/parley.pb-c.c
GEN_H = $(B)/gen/parley.pb-c.h
GEN_O = $(B)/obj/gen/parley.pb-c.o

COMMON_SRC = $(wildcard src/common/*.c)
SERVER_SRC = $(wildcard src/server/*.c)
LIB_SRC = $(wildcard src/lib/*.c)
CLI_SRC = $(wildcard src/cli/*.c)
RELAY_SRC = bench/relay.c
BENCH_SRC = $(filter-out $(RELAY_SRC),$(wildcard bench/*.c))
UNIT_SRC = $(wildcard tests/unit/test_*.c)
SFU_SRC = $(wildcard src/sfu/*.c)
SFU_BENCH_SRC = $(wildcard bench/sfu/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))
COMMON_O = $(call obj,$(COMMON_SRC)) $(GEN_O)
SERVER_O = $(call obj,$(SERVER_SRC))
SERVER_LIB_O = $(filter-out $(B)/obj/src/server/main.o,$(SERVER_O))
LIB_O = $(call obj,$(LIB_SRC))
CLI_O = $(call obj,$(CLI_SRC))
BENCH_O = $(call obj,$(BENCH_SRC))
SFU_O = $(call obj,$(SFU_SRC))
SFU_LIB_O = $(filter-out $(B)/obj/src/sfu/main.o,$(SFU_O))
SFU_BENCH_O = $(call obj,$(SFU_BENCH_SRC))

BIN = $(B)/bin
PARLEYD = $(BIN)/parleyd
PARLEY = $(BIN)/parley
BENCH = $(BIN)/parley-bench
RELAY = $(BIN)/parley-relay
# The secret-chat crypto micro-benchmark (bench/sc/, outside BENCH_SRC's wildcard: it links
# libparley's internals, not just its public API).
SC_BENCH = $(BIN)/parley-sc-bench
SFU = $(BIN)/parley-sfu
# How a checkpoint's writes slow the WAL's fsyncs on this disk (bench/disk/walsync.c).
WALSYNC = $(BIN)/parley-walsync
SFU_BENCH = $(BIN)/parley-sfu-bench
MEDIA_CHECK = $(B)/tests/media_check
LIBPARLEY_A = $(B)/lib/libparley.a
LIBPARLEY_SO = $(B)/lib/libparley.so
# tests/unit/test_server_*.c link the server modules, test_lib_*.c the library, the rest common.
UNIT_BIN = $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.PHONY: all deps web-deps run test check-banned check-deps test-unit test-integration test-peers clean fuzz-smoke fuzz-corpus fuzz-smoke-sfu
all: $(PARLEYD) $(PARLEY) $(BENCH) $(RELAY) $(SC_BENCH) $(WALSYNC) $(LIBPARLEY_SO) $(UNIT_BIN)
all: $(SFU) $(if $(SFU_BENCH_SRC),$(SFU_BENCH)) $(MEDIA_CHECK)

WEB_SRC = $(wildcard web/src/*.ts web/static/*) web/build.mjs web/tsconfig.json \
	web/package-lock.json proto/parley.proto
WEB_OUT = web/dist/app.js
ifneq ($(wildcard web/node_modules/.package-lock.json)$(filter web-deps,$(MAKECMDGOALS)),)
all: $(WEB_OUT)
endif

$(WEB_OUT): $(WEB_SRC) web/node_modules/.package-lock.json
	cd web && node build.mjs

# npm ci only when the lock file changed since the last install. No browser download:
# the tests drive Debian's chromium.
web-deps: web/node_modules/.package-lock.json
web/node_modules/.package-lock.json: web/package-lock.json
	cd web && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
	@touch $@

deps:
	@./scripts/deps.sh

$(GEN_C) $(GEN_H): proto/parley.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto proto/parley.proto

$(GEN_O): $(GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@

$(B)/obj/%.o: %.c | $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -c $< -o $@

# parleyd speaks proto/sfu.proto to the SFU it supervises (sfu_link.c).
$(PARLEYD): $(SERVER_O) $(B)/obj/gen/sfu.pb-c.o $(COMMON_O)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

$(LIBPARLEY_A): $(LIB_O) $(COMMON_O)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIBPARLEY_SO): $(LIB_SRC) $(COMMON_SRC) $(GEN_C) include/parley.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_OURS) -fPIC -shared -fvisibility=hidden -DPARLEY_BUILDING_SO \
		-o $@ $(LIB_SRC) $(COMMON_SRC) $(GEN_C) $(LDFLAGS_SO) $(LIBS)

$(PARLEY): $(CLI_O) $(LIBPARLEY_A)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_O) $(LIBPARLEY_A) $(LIBS) -ljansson

$(B)/obj/bench/%.o: CFLAGS_OURS += $(BENCH_CFLAGS)

$(BENCH): $(BENCH_O) $(LIBPARLEY_A)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $(BENCH_O) $(LIBPARLEY_A) $(BENCH_LIBS) $(LIBS)

$(SC_BENCH): $(call obj,bench/sc/sc_bench.c bench/sc/sc_throughput.c) $(LIBPARLEY_A)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $(filter %.o,$^) $(LIBPARLEY_A) $(LIBS)

$(WALSYNC): $(call obj,bench/disk/walsync.c)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ -pthread

$(RELAY): $(call obj,$(RELAY_SRC))
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LIBS)

# Server unit tests include server headers (store.h, ...) by name.
$(B)/obj/tests/unit/test_server_%.o: CFLAGS_OURS += -Isrc/server

$(B)/tests/test_server_%: $(B)/obj/tests/unit/test_server_%.o tests/unit/unit.h $(SERVER_LIB_O) $(B)/obj/gen/sfu.pb-c.o $(COMMON_O)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(SERVER_LIB_O) $(B)/obj/gen/sfu.pb-c.o $(COMMON_O) $(LIBS)

$(B)/tests/test_lib_%: $(B)/obj/tests/unit/test_lib_%.o tests/unit/unit.h $(LIBPARLEY_A)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(LIBPARLEY_A) $(LIBS)

$(B)/tests/test_common_%: $(B)/obj/tests/unit/test_common_%.o tests/unit/unit.h $(COMMON_O)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(COMMON_O) $(LIBS)

# The SFU (src/sfu): its modules are linked into parley-sfu, its unit tests and its bench.
$(B)/obj/src/sfu/%.o: CFLAGS_OURS += $(SFU_CFLAGS)
$(B)/obj/tests/unit/test_sfu_%.o: CFLAGS_OURS += -Isrc/sfu $(SFU_CFLAGS) -DSFU_TEST_DATA='"$(CURDIR)/tests/unit/data"'
$(B)/obj/bench/sfu/%.o: CFLAGS_OURS += -Isrc/sfu $(SFU_CFLAGS) $(SFU_BENCH_CFLAGS)

# proto/sfu.proto: the SFU's control channel, compiled like parley.proto.
SFU_GEN_C = $(B)/gen/sfu.pb-c.c
SFU_GEN_H = $(B)/gen/sfu.pb-c.h
SFU_GEN_O = $(B)/obj/gen/sfu.pb-c.o
$(SFU_GEN_C) $(SFU_GEN_H): proto/sfu.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen -Iproto proto/sfu.proto
$(SFU_GEN_O): $(SFU_GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_COMMON) -c $< -o $@
$(SFU_O) $(call obj,$(wildcard tests/unit/test_sfu_*.c)) $(SFU_BENCH_O): $(SFU_GEN_H)
$(SERVER_O) $(call obj,$(wildcard tests/unit/test_server_*.c)): $(SFU_GEN_H)

$(SFU): $(SFU_O) $(SFU_GEN_O) $(COMMON_O)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(SFU_LIBS) $(LIBS)

$(SFU_BENCH): $(SFU_BENCH_O) $(SFU_LIB_O) $(SFU_GEN_O) $(COMMON_O)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(SFU_LIBS) $(SFU_BENCH_LIBS) $(LIBS)

$(MEDIA_CHECK): $(B)/obj/tests/tools/media_check.o $(B)/obj/src/sfu/rtp.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(VPX_LIBS) $(LIBS)
$(B)/obj/tests/tools/media_check.o: CFLAGS_OURS += -Isrc/sfu $(SFU_CFLAGS)

$(B)/obj/tests/unit/test_sfu_srtp.o: CFLAGS_OURS += $(SRTP_REF_CFLAGS)
$(B)/tests/test_sfu_srtp: SFU_LIBS += $(SRTP_REF_LIBS)
$(B)/tests/test_sfu_%: $(B)/obj/tests/unit/test_sfu_%.o tests/unit/unit.h $(SFU_LIB_O) $(SFU_GEN_O) $(COMMON_O)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS_ALL) -o $@ $< $(SFU_LIB_O) $(SFU_GEN_O) $(COMMON_O) $(SFU_LIBS) $(LIBS)

# libFuzzer targets for the SFU's parsers (tests/fuzz/fuzz_sfu_*.c), built with clang into
# build-fuzz/ and each run for FUZZ_SECONDS over its committed corpus (tests/fuzz/corpus/<name>).
FUZZ_B = build-fuzz
FUZZ_SECONDS ?= 10
SFU_FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Isrc/sfu -Isrc/common $(SFU_CFLAGS)
SFU_FUZZ_SRC = $(wildcard tests/fuzz/fuzz_sfu_*.c)
SFU_FUZZ_BIN = $(patsubst tests/fuzz/%.c,$(FUZZ_B)/%,$(SFU_FUZZ_SRC))
# The parsers and the SRTP transform are pure (no logging, no libuv), so the targets link
# only these files.
SFU_FUZZ_LIBSRC = src/sfu/stun.c src/sfu/rtp.c src/sfu/sdp.c src/sfu/srtp.c
$(FUZZ_B)/fuzz_sfu_%: tests/fuzz/fuzz_sfu_%.c $(SFU_FUZZ_LIBSRC)
	@mkdir -p $(FUZZ_B)
	clang $(SFU_FUZZ_FLAGS) -o $@ $< $(SFU_FUZZ_LIBSRC) $(SFU_LIBS) $(PKG_LIBS)
.PHONY: fuzz-smoke-sfu
fuzz-smoke-sfu: $(SFU_FUZZ_BIN)
	@for f in $(SFU_FUZZ_BIN); do n=$${f##*/fuzz_sfu_}; mkdir -p $(FUZZ_B)/corpus-$$n; \
		echo "fuzz $$n ($(FUZZ_SECONDS) s)"; \
		ASAN_OPTIONS=strict_string_checks=1 $$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=0 \
			$(FUZZ_B)/corpus-$$n tests/fuzz/corpus/$$n 2>$(FUZZ_B)/$$n.log || \
			{ tail -40 $(FUZZ_B)/$$n.log; exit 1; }; done

# deps.sh runs before a sub-make so that pkg-config finds freshly installed libraries.
run:
	@./scripts/deps.sh
	@$(MAKE) -s web-deps
	@$(MAKE) -s all
	@echo "parleyd: https://127.0.0.1:8443  (open it in a browser; CLI: $(CURDIR)/$(PARLEY); stop with Ctrl-C)"
	exec ./scripts/run-local.sh $(PARLEYD)

# Every test, first on the optimised build, then under ASan+UBSan. Non-zero exit on failure.
# The short peers benchmark (bench/run-peers --quick) runs on the optimised build only: it
# measures, and sanitizers would measure themselves.
test:
	@./scripts/deps.sh test
	$(MAKE) -s check-banned
	$(MAKE) -s check-deps
	$(MAKE) -s web-deps
	$(MAKE) -s all
	./scripts/run-tests.sh $(B)
	./bench/run-peers --quick --no-install --bin $(B)/bin
	$(MAKE) -s SAN=1 all
	./scripts/run-tests.sh build-asan
	$(MAKE) -s fuzz-smoke
	$(MAKE) -s fuzz-smoke-sfu
	$(MAKE) -s fuzz-smoke-srv

# No string function that is not bounded by its destination (strcpy, strcat, sprintf,
# strncat, strncpy, ...) in the C code: tests/build/check_banned_calls.py says which and where.
check-banned:
	/usr/bin/python3 tests/build/check_banned_calls.py

# `make run` on a fresh Debian 12 installs every package its build runs or links: a traced
# clean build in a temporary copy against scripts/deps.sh run with nothing installed
# (tests/build/check_deps.py says how; about a clean build's time).
check-deps:
	/usr/bin/python3 tests/build/check_deps.py

test-unit:
	@./scripts/deps.sh test
	@$(MAKE) -s all
	./scripts/run-tests.sh $(B) unit

test-integration:
	@./scripts/deps.sh test
	@$(MAKE) -s web-deps
	@$(MAKE) -s all
	./scripts/run-tests.sh $(B) integration

test-peers:
	@./scripts/deps.sh test
	@$(MAKE) -s all
	./bench/run-peers --quick --no-install --bin $(B)/bin

# libFuzzer targets of the secret-chat crypto core (tests/fuzz/fuzz_*.c), built with clang
# into build-fuzz/ from the sc_*.c sources alone (they need only libsodium and libcrypto).
# fuzz-smoke runs each for FUZZ_TIME seconds over its committed seeds
# (tests/fuzz/corpus/<target>/, read-only: new inputs go to build-fuzz/corpus/<target>/);
# fuzz-corpus regenerates the seeds.
FUZZ_CC ?= clang
FUZZ_TIME ?= 20
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -Wall -Wextra -Wno-unused-parameter
SC_SRC = $(wildcard src/lib/sc_*.c)
SC_PKG_CFLAGS := $(shell pkg-config --cflags libsodium libcrypto 2>/dev/null)
SC_PKG_LIBS := $(shell pkg-config --libs libsodium libcrypto 2>/dev/null)
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,$(FUZZ_B)/%,$(wildcard tests/fuzz/fuzz_sc_*.c))

$(FUZZ_B)/fuzz_sc_%: tests/fuzz/fuzz_sc_%.c tests/fuzz/fuzz_common.h $(SC_SRC) src/lib/secret_crypto.h
	@mkdir -p $(FUZZ_B)
	$(FUZZ_CC) $(FUZZ_FLAGS) $(SC_PKG_CFLAGS) -o $@ $< $(SC_SRC) $(SC_PKG_LIBS)

$(FUZZ_B)/gen_corpus: tests/fuzz/gen_corpus.c tests/fuzz/fuzz_common.h $(SC_SRC) src/lib/secret_crypto.h
	@mkdir -p $(FUZZ_B)
	$(CC) -std=c11 -D_GNU_SOURCE -O1 -g -Wall -Wextra $(SC_PKG_CFLAGS) -o $@ $< $(SC_SRC) $(SC_PKG_LIBS)

fuzz-corpus: $(FUZZ_B)/gen_corpus
	mkdir -p $(addprefix tests/fuzz/corpus/,$(notdir $(FUZZ_TARGETS)))
	$(FUZZ_B)/gen_corpus tests/fuzz/corpus

fuzz-smoke: $(FUZZ_TARGETS)
	@set -e; for t in $(FUZZ_TARGETS); do n=$$(basename $$t); \
		mkdir -p $(FUZZ_B)/corpus/$$n $(FUZZ_B)/artifacts; \
		echo "fuzz-smoke: $$n for $(FUZZ_TIME)s"; \
		ASAN_OPTIONS=detect_leaks=1 $$t -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=1024 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_B)/artifacts/$$n- \
			$(FUZZ_B)/corpus/$$n tests/fuzz/corpus/$$n 2>$(FUZZ_B)/$$n.log \
			|| { tail -40 $(FUZZ_B)/$$n.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' $(FUZZ_B)/$$n.log | tr '\n' ' '; echo; \
	done

# libFuzzer targets of parleyd's own input path (tests/fuzz/fuzz_srv_*.c): the frame decoder
# and pbstrings (srv_frame), dispatch_frame() on a logged-in connection (srv_dispatch), the
# login API bodies (srv_webauth), the config parser (srv_config). srv_dispatch and srv_webauth
# link every server module but main.c, networking.c and web_http.c, whose interface
# tests/fuzz/srv_harness.c stands in for (no sockets; a real store in a temporary directory).
# Objects are built with clang into build-fuzz/srvobj. fuzz-smoke-srv (in `make test`) runs
# each for FUZZ_SRV_SECONDS over its committed seeds (tests/fuzz/corpus/srv_<name>/);
# fuzz-long runs each for FUZZ_LONG_SECONDS and appends the figures to build-fuzz/fuzz-long.txt;
# fuzz-srv-corpus regenerates the seeds (tests/fuzz/gen_srv_corpus.py).
FUZZ_SRV_SECONDS ?= 10
FUZZ_LONG_SECONDS ?= 600
SRV_FUZZ_NAMES = frame dispatch webauth config
SRV_FUZZ_BIN = $(addprefix $(FUZZ_B)/fuzz_srv_,$(SRV_FUZZ_NAMES))
SRV_FUZZ_CFLAGS = -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -Wall -Wextra -Wno-unused-parameter -MMD -MP \
	-Iinclude -Isrc/common -Isrc/server -I$(B)/gen $(PKG_CFLAGS)
SRV_FUZZ_LDFLAGS = -fsanitize=fuzzer,address,undefined -pthread
fobj = $(patsubst %.c,$(FUZZ_B)/srvobj/%.o,$(1))
SRV_FUZZ_SERVER_SRC = $(filter-out src/server/main.c src/server/networking.c src/server/web_http.c,$(SERVER_SRC)) \
	$(COMMON_SRC) $(GEN_C) $(SFU_GEN_C) tests/fuzz/srv_harness.c

$(FUZZ_B)/srvobj/%.o: %.c | $(GEN_H) $(SFU_GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(SRV_FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_B)/fuzz_srv_frame: $(call fobj,tests/fuzz/fuzz_srv_frame.c src/common/pbstrings.c src/common/utf8.c $(GEN_C))
	$(FUZZ_CC) $(SRV_FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS)
$(FUZZ_B)/fuzz_srv_config: $(call fobj,tests/fuzz/fuzz_srv_config.c src/server/config.c src/server/cidr.c src/common/log.c)
	$(FUZZ_CC) $(SRV_FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm
$(FUZZ_B)/fuzz_srv_dispatch $(FUZZ_B)/fuzz_srv_webauth: $(FUZZ_B)/fuzz_srv_%: $(call fobj,tests/fuzz/fuzz_srv_%.c $(SRV_FUZZ_SERVER_SRC))
	$(FUZZ_CC) $(SRV_FUZZ_LDFLAGS) -o $@ $^ $(PKG_LIBS) -lm

.PHONY: fuzz-smoke-srv fuzz-long fuzz-srv-corpus
fuzz-smoke-srv: $(SRV_FUZZ_BIN)
	@set -e; for n in $(SRV_FUZZ_NAMES); do \
		tests/fuzz/run_srv_fuzz.sh $(FUZZ_B) $$n $(FUZZ_SRV_SECONDS); done

fuzz-long: $(SRV_FUZZ_BIN)
	@set -e; for n in $(SRV_FUZZ_NAMES); do \
		tests/fuzz/run_srv_fuzz.sh $(FUZZ_B) $$n $(FUZZ_LONG_SECONDS) | tee -a $(FUZZ_B)/fuzz-long.txt; done

fuzz-srv-corpus:
	/usr/bin/python3 tests/fuzz/gen_srv_corpus.py

-include $(shell find $(FUZZ_B)/srvobj -name '*.d' 2>/dev/null)

# Fault injection (tests/faults/, docs/RELIABILITY.md). `make test` runs the short versions
# (tests/faults/test_faults.py: 5 crash cycles, the full disk, a 40-second soak) in both
# builds. The long runs, before a release, with their figures recorded in docs/RELIABILITY.md:
#   test-faults  CRASH_CYCLES (100) SIGKILLs under load, then the checks; the full disk
#   soak         SOAK_MINUTES (60) at SOAK_RATE (750/s, half the sustained 1,500/s), one
#                sample a minute into build/soak/soak.csv and soak.png
#   soak-asan    SOAK_ASAN_MINUTES (10) of the same under ASan/LSan (build-asan)
CRASH_CYCLES ?= 100
SOAK_MINUTES ?= 60
SOAK_ASAN_MINUTES ?= 10
SOAK_RATE ?= 750
.PHONY: test-faults soak soak-asan
test-faults:
	@./scripts/deps.sh test
	@$(MAKE) -s all
	PARLEY_BIN=$(CURDIR)/$(B)/bin /usr/bin/python3 tests/faults/crash_cycles.py \
		--cycles $(CRASH_CYCLES) --json $(B)/crash-cycles.json
	PARLEY_BIN=$(CURDIR)/$(B)/bin /usr/bin/python3 -m pytest -q -p no:cacheprovider \
		tests/faults/test_faults.py -k disk_full

soak:
	@./scripts/deps.sh soak
	@$(MAKE) -s all
	PARLEY_BIN=$(CURDIR)/$(B)/bin /usr/bin/python3 tests/faults/soak.py --minutes $(SOAK_MINUTES) \
		--rate $(SOAK_RATE) --out $(B)/soak --check

soak-asan:
	@./scripts/deps.sh soak
	@$(MAKE) -s SAN=1 all
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	PARLEY_BIN=$(CURDIR)/build-asan/bin /usr/bin/python3 tests/faults/soak.py \
		--minutes $(SOAK_ASAN_MINUTES) --rate $(SOAK_RATE) --out build-asan/soak --check

clean:
	rm -rf build build-asan build-fuzz web/dist web/src/gen

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
