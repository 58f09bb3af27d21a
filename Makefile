# dfc — build, test, benchmark.
#   make            the runtime library (build/libdfcrt.a) and tools
#   make deps       install missing Debian packages (as root, quietly, once; see bootstrap.sh)
#   make demo       deps + build + compile and run examples/simple.flow
#   make test       deps + build + the whole TAP suite through prove
#   make sanitize   runtime unit tests under ASan+UBSan and under TSan
#   make bench      benchmarks (never part of make test)

CC      ?= cc
BUILD   := build
CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter -Iinclude -Iruntime -pthread

RT_SRCS := $(filter-out runtime/tool_%.c,$(wildcard runtime/*.c))
RT_OBJS := $(RT_SRCS:runtime/%.c=$(BUILD)/rt/%.o)
RT_HDRS := $(wildcard include/*.h) $(wildcard runtime/*.h)

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test unit sanitize bench clean

all: $(BUILD)/libdfcrt.a $(UNIT_BINS) $(BUILD)/dfc-keygen

deps:
	@./bootstrap.sh deps

$(BUILD)/rt/%.o: runtime/%.c $(RT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libdfcrt.a: $(RT_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libdfcrt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libdfcrt.a -lsodium -lm

$(BUILD)/dfc-keygen: runtime/tool_keygen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ -lsodium

unit: $(UNIT_BINS)

demo: all
	@echo "== bin/dfc examples/simple.flow -o build/simple && build/simple"
	@bin/dfc examples/simple.flow -o $(BUILD)/simple
	@$(BUILD)/simple
	@echo "== bin/dfc examples/wordcount.flow -o build/wordcount && build/wordcount -w2 (sorted)"
	@bin/dfc examples/wordcount.flow -o $(BUILD)/wordcount
	@$(BUILD)/wordcount -w2 | sort

test: all
	prove tests/

# make sanitize: the runtime objects and the unit tests (tests/unit/test_*.c)
# rebuilt with ASan+UBSan into build/asan/ and with TSan into build/tsan/, then
# run; each test's output goes to build/<san>/<test>.log.
SAN_TESTS  := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
TSAN_FLAGS := -O1 -fsanitize=thread

define SAN_RULES
$(BUILD)/$(1)/rt/%.o: runtime/%.c $(RT_HDRS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $(2) -c $$< -o $$@

$(BUILD)/$(1)/libdfcrt.a: $(RT_SRCS:runtime/%.c=$(BUILD)/$(1)/rt/%.o)
	@rm -f $$@
	ar rcs $$@ $$^

$(BUILD)/$(1)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/$(1)/libdfcrt.a
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $(2) $$< -o $$@ $(BUILD)/$(1)/libdfcrt.a -lsodium -lm
endef
$(eval $(call SAN_RULES,asan,$(ASAN_FLAGS)))
$(eval $(call SAN_RULES,tsan,$(TSAN_FLAGS)))

sanitize: $(SAN_TESTS:%=$(BUILD)/asan/tests/%) $(SAN_TESTS:%=$(BUILD)/tsan/tests/%) all
	@fail=0; for s in asan tsan; do for t in $(SAN_TESTS); do \
	  if UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/$$s/tests/$$t >$(BUILD)/$$s/$$t.log 2>&1; \
	  then echo "$$s $$t: ok"; else echo "$$s $$t: FAILED (see $(BUILD)/$$s/$$t.log)"; fail=1; fi; \
	done; done; \
	tests/sanitize-flows.sh asan "$(ASAN_FLAGS)" || fail=1; \
	tests/sanitize-flows.sh tsan "$(TSAN_FLAGS)" || fail=1; \
	exit $$fail

bench: all
	bench/run

clean:
	rm -rf $(BUILD)
