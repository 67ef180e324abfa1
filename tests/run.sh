#!/usr/bin/env bash
# Starts what the tests need, runs the whole suite, stops what it started.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
jack_pid=""
jack_up() { jack_wait -c 2>/dev/null | grep -qx running; }  # jack_wait -c exits 0 either way
if ! jack_up; then
  # A real JACK server with the dummy backend: the live tests' sound card. Not real-time: on this
  # 2-core VM a real-time server ran the suite's JACK tests cleaner one by one (0-1 xruns per
  # take against ~50) but, after the hot-swap test, a test client's process thread went
  # unscheduled for seconds ("not finished, state = Triggered" x559) and the next ten tests heard
  # silence; the live-timbre test (issue 14) needs real time and skips here, saying so.
  # GANSYNTH_JACK_REALTIME=1 starts a real-time server instead.
  mode="--no-realtime"
  [ -n "${GANSYNTH_JACK_REALTIME:-}" ] && chrt -f 1 true 2>/dev/null && mode="-R -P 70"
  jackd $mode -d dummy -r 48000 -p 128 >/tmp/gansynth-jackd.log 2>&1 &
  jack_pid=$!
  for _ in $(seq 50); do jack_up && break; sleep 0.2; done
  if ! jack_up && [ "$mode" != "--no-realtime" ]; then  # real-time refused after all (memlock, cgroup)
    kill "$jack_pid" 2>/dev/null
    jackd --no-realtime -d dummy -r 48000 -p 128 >/tmp/gansynth-jackd.log 2>&1 &
    jack_pid=$!
    for _ in $(seq 50); do jack_up && break; sleep 0.2; done
  fi
  jack_up || { echo "jackd did not start:"; cat /tmp/gansynth-jackd.log; }
fi
$BIN/ruff check synth training export tests benchmarks examples
lint=$?
GANSYNTH_REQUIRE_JACK=1 $BIN/python -m pytest -q "$@"
status=$?
[ -n "$jack_pid" ] && kill "$jack_pid" 2>/dev/null
[ $lint -ne 0 ] && [ $status -eq 0 ] && status=$lint
exit $status
