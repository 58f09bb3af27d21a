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
RT_HDRS := include/dfc.h $(wildcard runtime/*.h)

UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps demo test unit sanitize bench clean

all: $(BUILD)/libdfcrt.a $(UNIT_BINS)

deps:
	@./bootstrap.sh deps

$(BUILD)/rt/%.o: runtime/%.c $(RT_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libdfcrt.a: $(RT_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libdfcrt.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< -o $@ $(BUILD)/libdfcrt.a -lsodium -lm

unit: $(UNIT_BINS)

demo: all
	bin/dfc examples/simple.flow -o $(BUILD)/simple
	$(BUILD)/simple

test: all
	prove tests/

clean:
	rm -rf $(BUILD)
