#!/bin/sh
exec "$(dirname "$0")/../build/tests/test_worker"
