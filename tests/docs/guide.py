"""Reading a guide's shell examples and what it says they answer, running them in one shell,
and comparing.

The conventions (docs/api.md, "How the examples read", says them to the reader):

- Every ```sh block runs, in the order of the guide, in one bash process: variables and
  functions carry over from block to block. A block right after the line
  `<!-- docs-test: skip -->` does not run (the set-up block whose values the test supplies).
- A comment `# NNN ...` after a command is what the command's last `curl` answered: the HTTP
  status, then optionally response headers (`Idempotent-Replayed: true`) and the JSON body.
  Continuation lines start with `#` and two or more spaces. A comment `# {...}` (no status) is
  what the command printed (a `jq` at the end of a pipeline, say). Other comments are prose.
- A ```json block right after a ```sh block (or after a `**NNN**:` line that follows one) is
  what the block's last command printed; `**NNN**` is its last curl's status.
- In expected JSON, `...` stands for members or items left out; a dict without `...` must have
  exactly the keys shown, a list without it exactly the items shown. The string `"..."`
  matches any value, a string ending in `...` any string starting with what comes before, and
  an RFC 3339 time any RFC 3339 time: ids of keys, passwords and times differ on each run.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

SKIP_MARK = "<!-- docs-test: skip -->"
MORE = "\u2026more"  # what a bare `...` becomes while the expected JSON is parsed
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)")
STATUS_COMMENT = re.compile(r"#\s(\d{3})(?:\s|$)(.*)")
HEADER = re.compile(r"([A-Za-z][A-Za-z0-9-]*):\s*(\S+)\s*")


@dataclass
class Expectation:
    line: int  # in the guide, 1-based, for messages
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: object = None  # parsed expected JSON, or None
    has_body: bool = False
    printed: bool = False  # compare what the command printed, not its curl's body


@dataclass
class Step:
    """A piece of a block that ends where an expectation starts (or with the block)."""

    code: str
    line: int
    expectation: Expectation | None = None


def parse_guide(text: str) -> list[Step]:
    lines = text.splitlines()
    steps: list[Step] = []
    i = 0
    skip_next = False
    while i < len(lines):
        line = lines[i]
        if line.strip() == SKIP_MARK:
            skip_next = True
        if line.lstrip().startswith("```sh"):
            # A block inside a list item is indented; its code is taken without the indent.
            indent = len(line) - len(line.lstrip())
            end = next(j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("```"))
            if not skip_next:
                code = [text[indent:] if text[:indent].isspace() else text
                        for text in lines[i + 1:end]]
                block_steps = _parse_block(code, first_line=i + 2)
                trailing = _json_after(lines, end)
                if trailing and block_steps:
                    last = block_steps[-1]
                    if last.expectation is not None:
                        raise ValueError(f"line {last.line}: a step with two expectations")
                    last.expectation = trailing
                steps.extend(block_steps)
            skip_next = False
            i = end + 1
            continue
        if line.lstrip().startswith("```"):  # another language's block: jump over it
            skip_next = False
            i = next(j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("```"))
            i += 1
            continue
        i += 1
    return steps


def _parse_block(lines: list[str], first_line: int) -> list[Step]:
    steps: list[Step] = []
    code: list[str] = []
    start = first_line
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        status = STATUS_COMMENT.match(stripped)
        printed = stripped.startswith("# {") or stripped.startswith("# [")
        if status or printed:
            text = stripped[1:].strip()
            j = i + 1
            # Continuation lines while the JSON is open.
            while (j < len(lines) and re.match(r"\s*#\s{2,}", lines[j])
                   and (_open_brackets(text) > 0 or not re.search(r"[{\[]", text))):
                text += " " + lines[j].strip()[1:].strip()
                j += 1
            steps.append(Step("\n".join(code), start,
                              _expectation(text, first_line + i, printed=printed)))
            code, start = [], first_line + j
            i = j
            continue
        code.append(lines[i])
        i += 1
    if any(line.strip() and not line.strip().startswith("#") for line in code):
        steps.append(Step("\n".join(code), start))
    return steps


def _json_after(lines: list[str], fence_end: int) -> Expectation | None:
    """The ```json block that shows what the sh block ending at `fence_end` printed."""
    i = fence_end + 1
    status = None
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines):
        match = re.fullmatch(r"\*\*(\d{3})\*\*.*:", lines[i].strip())
        if match:
            status = int(match.group(1))
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
    if i >= len(lines) or lines[i].strip() != "```json":
        return None
    end = next(j for j in range(i + 1, len(lines)) if lines[j].lstrip().startswith("```"))
    expected = Expectation(line=i + 1, status=status, printed=True, has_body=True)
    expected.body = parse_expected_json("\n".join(lines[i + 1:end]), where=i + 2)
    return expected


def _expectation(text: str, line: int, printed: bool) -> Expectation:
    expected = Expectation(line=line, printed=printed)
    if not printed:
        status = STATUS_COMMENT.match("# " + text)
        expected.status = int(status.group(1))
        text = status.group(2).strip()
        # Headers, if any, come before the body.
        while (header := HEADER.match(text)) and not text.startswith(("{", "[")):
            expected.headers[header.group(1)] = header.group(2)
            text = text[header.end():]
    if text.startswith(("{", "[")):
        end = _json_end(text)
        expected.body = parse_expected_json(text[:end], where=line)
        expected.has_body = True
    return expected


def _open_brackets(text: str) -> int:
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth


def _json_end(text: str) -> int:
    for end in range(1, len(text) + 1):
        if text[end - 1] in "}]" and _open_brackets(text[:end]) == 0:
            return end
    return len(text)


def parse_expected_json(text: str, where: int):
    """JSON with `...` for what is left out: a bare `...` becomes a marker member or item."""
    out, stack, i = [], [], 0
    in_string = escaped = False
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
            out.append(char)
        elif text.startswith("...", i):
            out.append(f'"{MORE}": true' if stack and stack[-1] == "{" else f'"{MORE}"')
            i += 3
            continue
        else:
            if char in "{[":
                stack.append(char)
            elif char in "}]":
                stack.pop()
            out.append(char)
        i += 1
    try:
        return json.loads("".join(out))
    except json.JSONDecodeError as error:
        raise ValueError(f"guide line {where}: expected JSON does not parse: {error}") from None


# Fields whose figures move with the hour and the date (the demo's "9-12 double bonuses" rule,
# birthday bonuses): when the run falls there, only the structure, ids and codes are compared.
LOOSE_KEYS_COMPARED = {"type", "status", "kind", "code", "tier", "tier_manual", "replayed",
                       "valid", "purpose", "field", "action", "object_type", "receipt_id",
                       "refund_id", "name", "email", "role", "active"}


def mismatches(expected, actual, path="", loose=False) -> list[str]:
    """What differs between the guide's JSON and the answer ([] when it matches)."""
    if expected == "...":
        return []
    if isinstance(expected, str) and expected.endswith("...") and expected != MORE:
        prefix = expected[:-3]
        ok = isinstance(actual, str) and actual.startswith(prefix)
        return [] if ok else [f"{path}: {actual!r} does not start with {prefix!r}"]
    if isinstance(expected, str) and TIME.fullmatch(expected):
        ok = isinstance(actual, str) and TIME.fullmatch(actual)
        return [] if ok else [f"{path}: {actual!r} is not an RFC 3339 time"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems = []
        partial = expected.get(MORE) is True
        keys = [key for key in expected if key != MORE]
        problems += [f"{path}.{key}: missing" for key in keys if key not in actual]
        if not partial:
            problems += [f"{path}.{key}: not in the guide" for key in actual if key not in expected]
        for key in keys:
            if key in actual:
                if loose and key in ("hints", "rules"):  # which rules apply moves with the hour
                    continue
                problems += mismatches(expected[key], actual[key], f"{path}.{key}", loose)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        partial = bool(expected) and expected[-1] == MORE
        items = expected[:-1] if partial else expected
        if (len(actual) < len(items)) if partial else (len(actual) != len(items)):
            return [f"{path}: {len(actual)} items, the guide shows {len(items)}"
                    f"{' or more' if partial else ''}: {actual!r}"]
        problems = []
        for n, item in enumerate(items):
            problems += mismatches(item, actual[n], f"{path}[{n}]", loose)
        return problems
    if loose:
        key = path.rsplit(".", 1)[-1]
        if key not in LOOSE_KEYS_COMPARED and not key.endswith("id"):
            return []
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: the guide shows {expected!r}, the server answered {actual!r}"]
    return []
