"""The soak's verdict as text: counts of everything, then each violation rule with examples."""

from __future__ import annotations

from collections import defaultdict

from bench.soak.checker import Result

EXAMPLES = 5


def _block(title: str, mapping: dict) -> list[str]:
    if not mapping:
        return [f"{title}: none"]
    width = max(len(str(k)) for k in mapping)
    return [f"{title}:"] + [f"  {k!s:{width}}  {v}" for k, v in mapping.items()]


def render(result: Result) -> str:
    s = result.stats
    lines = [f"seed {s.get('seed')}  minutes {s.get('minutes')}  intensity {s.get('intensity')}"]
    for key, value in s.get("setup", {}).items():
        lines.append(f"{key}: {value}")
    lines += _block("faults injected", s.get("faults_by_kind", {}))
    lines.append(f"submits {s.get('submits')} (201: {s.get('accepted_submits')}; without an answer or refused: "
                 f"{s.get('unanswered_submits')}, of which exist anyway: {s.get('unanswered_submits_that_exist')})")
    lines += _block("tasks by kind and final status", s.get("tasks_by_kind_and_status", {}))
    lines += _block("cancels by answer", s.get("cancels", {}))
    lines += _block("API outcomes (route, class)", s.get("api_outcomes", {}))
    for key in ("requeued_after_node_loss", "longest_requeue_wait_s", "longest_requeue_wait", "median_requeue_wait_s",
                "longest_wait_to_running_again_s", "attempt_overlaps", "longest_attempt_overlap_s",
                "allocation_samples", "allocation_sample_failures", "attempt_logs_checked", "raw_logs_compared",
                "capacity_check"):
        if key in s:
            lines.append(f"{key}: {s[key]}")
    lines += _block("peak allocation per node", s.get("peak_allocation", {}))
    if s.get("fault_errors"):
        lines += ["harness errors while injecting:"] + [f"  {e}" for e in s["fault_errors"]]
    by_rule = defaultdict(list)
    for violation in result.violations:
        by_rule[violation.rule].append(violation)
    lines.append(f"VIOLATIONS: {len(result.violations)}")
    for rule, items in sorted(by_rule.items()):
        lines.append(f"  {rule}: {len(items)}")
        lines += [f"    - {v.text}" for v in items[:EXAMPLES]]
    return "\n".join(lines)
