#!/usr/bin/env bash
# Starts what the tests need, runs the whole suite, stops what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
jack_pid=""
if ! jack_wait -c >/dev/null 2>&1; then
  # A real JACK server with the dummy backend: the live tests' sound card.
  jackd --no-realtime -d dummy -r 48000 -p 128 >/tmp/gansynth-jackd.log 2>&1 &
  jack_pid=$!
  if ! jack_wait -w -t 15 >/dev/null 2>&1; then
    echo "jackd did not start:"; cat /tmp/gansynth-jackd.log
  fi
fi
$BIN/ruff check synth training export tests benchmarks examples
lint=$?
GANSYNTH_REQUIRE_JACK=1 $BIN/python -m pytest -q "$@"
status=$?
[ -n "$jack_pid" ] && kill "$jack_pid" 2>/dev/null
[ $lint -ne 0 ] && [ $status -eq 0 ] && status=$lint
exit $status
