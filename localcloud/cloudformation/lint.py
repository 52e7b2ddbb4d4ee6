"""Template checks with cfn-lint, run before a stack is created or updated."""

from __future__ import annotations

from cfnlint.api import ManualArgs, lint


def lint_errors(template: str, region: str) -> list[str]:
    """cfn-lint's errors (not warnings) for ``template`` in ``region``, one line each."""
    matches = lint(template, config=ManualArgs(regions=[region]))
    return [
        f"[{match.rule.id}] {match.message} (line {match.linenumber})"
        for match in matches
        if match.rule.id.startswith("E")
    ]
