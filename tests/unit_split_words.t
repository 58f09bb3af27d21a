#!/bin/sh
exec "$(dirname "$0")/../build/tests/test_split_words"
