#!/bin/bash
# The soak's task wrapper: `bash wrap.sh KIND ARGS...`. Each attempt appends one-line records to the
# side-effect file (one short O_APPEND write each, so lines never interleave), outside the scheduler:
#   S task attempt node time -     the attempt started
#   A task attempt node time -     still running (sleepers and chatty tasks, every tick or block)
#   T task attempt node time -     got SIGTERM (the agent stopping it)
#   E task attempt node time CODE  ran to the end and exits with CODE
# Its output is deterministic from the task id and the attempt, so the checker knows what it printed.
EFFECTS=__EFFECTS__
id=${SCHEDULER_TASK_ID:?} at=${SCHEDULER_ATTEMPT:?} node=${SCHEDULER_NODE:?}
rec() { printf '%s %s %s %s %s %s\n' "$1" "$id" "$at" "$node" "$EPOCHREALTIME" "${2:--}" >>"$EFFECTS"; }
kind=$1
shift
rec S
trap 'rec T; exit 143' TERM
case "$kind" in
  true) true; echo "ok $id $at"; code=0 ;;
  fail) echo "fail $id $at"; code=$1 ;;
  flaky) if ((at < $1)); then echo "flaky $id $at no"; code=3; else echo "flaky $id $at yes"; code=0; fi ;;
  sleep)
    for ((i = 1; i <= $1; i++)); do echo "tick $id $at $i"; rec A; sleep 0.5; done
    code=0 ;;
  chatty)
    for ((b = 0; b < $1; b += 1000)); do
      seq -f "line $id $at %.0f" $((b + 1)) $((b + 1000 < $1 ? b + 1000 : $1)); rec A; sleep 0.1
    done
    code=0 ;;
  *) echo "unknown kind $kind" >&2; code=99 ;;
esac
rec E "$code"
exit "$code"
