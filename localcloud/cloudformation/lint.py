"""Template checks with cfn-lint, run before a stack is created or updated.

Most of a cfn-lint call from scratch is loading its 300-odd rules and the schemas they read (about
0.3 s); checking a template with them takes tens of milliseconds.  So the rules are loaded once, on
the first lint, and each verdict is remembered per template and region: the workshop deploys the
same few templates again and again, and a template's errors depend on nothing else.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections import OrderedDict

from cfnlint.config import ConfigMixIn
from cfnlint.decode.decode import decode_str
from cfnlint.rules import Rules
from cfnlint.runner import Runner, run_template_by_data

REMEMBERED_TEMPLATES = 256

# The rules keep per-template state while they run, so one template is checked at a time.
_lock = threading.Lock()
_verdicts: OrderedDict[tuple[str, str], list[str]] = OrderedDict()


@functools.cache
def _rules() -> Rules:
    # The rule set does not depend on the region, only on options we never set.
    return Runner(ConfigMixIn(regions=["us-east-1"])).rules


def _check(template: str, region: str) -> list[str]:
    data, matches = decode_str(template)
    if not matches and data is not None:
        matches = run_template_by_data(data, ConfigMixIn(regions=[region]), _rules())
    return [
        f"[{match.rule.id}] {match.message} (line {match.linenumber})"
        for match in matches
        if match.rule.id.startswith("E")
    ]


def lint_errors(template: str, region: str) -> list[str]:
    """cfn-lint's errors (not warnings) for ``template`` in ``region``, one line each."""
    key = (hashlib.sha256(template.encode()).hexdigest(), region)
    with _lock:
        if key in _verdicts:
            _verdicts.move_to_end(key)
            return list(_verdicts[key])
        errors = _check(template, region)
        _verdicts[key] = errors
        if len(_verdicts) > REMEMBERED_TEMPLATES:
            _verdicts.popitem(last=False)
        return list(errors)
