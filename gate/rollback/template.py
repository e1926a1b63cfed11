"""Placeholders in rollback steps: one syntax, one escape, one pass at each end.

In gate.yaml a step may use ``${model.name}``, ``${model.version}`` (the
candidate), ``${target.KEY}`` and ``${env.NAME}``; ``$${`` is a literal ``${``
(the one escape). Nothing else starts with ``${``: an unknown name, or a ``${``
that is never closed, is an error.

When the plan is written (``render``), the model and target placeholders are
replaced and ``${env.NAME}`` is kept. The plan's strings use the same syntax,
reduced to ``${env.NAME}`` and the escape ``$${``: every ``${`` that was
literal text or came from a value is written ``$${``, so a value can never turn
into a placeholder. When a step runs (``expand``), one pass replaces
``${env.NAME}`` with the variable and ``$${`` with ``${``; a value is never
scanned again.

Shell strings (a ``run:`` string, or the script after ``sh -c``) never get a
value pasted into their code: each placeholder becomes a reference to an
environment variable, quoted for where it stands (``"$GATE_MODEL_NAME"``
outside quotes, ``$GATE_MODEL_NAME`` inside double quotes, ``'"$X"'`` inside
single quotes), and the step runner sets ``GATE_MODEL_NAME``,
``GATE_MODEL_VERSION`` and ``GATE_TARGET_<KEY>`` in every step's environment.
The shell expands a variable's value without reading it as code. Where the
quoting context cannot be told for sure (command substitution, backquotes,
``${...}`` expansions, here-documents, arithmetic, ``[[``, ``eval``, a nested
``sh -c``, ``ssh``), a placeholder is refused with a hint, never guessed.

In an ``http`` URL, a value after the host is percent-encoded; in a header, a
value may not hold control characters (a newline would start a new header).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from gate.errors import json_path

ENV_PREFIX = "env."
ESCAPE = "$${"
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "yash", "busybox"})
RESERVED_ENV = ("GATE_MODEL_", "GATE_TARGET_", "GATE_ROLLBACK_")

# Shell constructs inside which gate cannot tell how a value would be quoted, or
# which read a value as code again: a shell string using one takes no placeholder.
_OPAQUE = (
    ("`", "backquotes"), ("$(", "command substitution $(...)"),
    ("${", "a ${...} expansion (written $${ in gate.yaml)"), ("((", "arithmetic (( ))"),
    ("[[", "[[ ]] (it evaluates operands as arithmetic)"), ("<<", "a here-document"),
    ("$'", "$'...' quoting"), ('$"', '$"..." quoting'),
)
_REPARSE = re.compile(
    r"(?:^|[\s;&|(!])(eval|ssh|su|let|declare|typeset|"
    r"(?:[\w./-]*/)?(?:" + "|".join(sorted(SHELLS)) + r"))(?=[\s;&|)]|$)"
)


class TemplateError(Exception):
    """A placeholder that cannot be used here; the caller adds the file and place."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Var:
    """A ``${name}`` placeholder."""

    name: str

    @property
    def is_env(self) -> bool:
        return self.name.startswith(ENV_PREFIX)

    @property
    def env_name(self) -> str:
        return self.name[len(ENV_PREFIX):]


Segment = str | Var
_HINT = ("use ${model.name}, ${model.version}, ${target.<key>} or ${env.NAME}; write $${ for a "
         "literal ${")


def parse(text: str) -> list[Segment]:
    """``text`` as literal runs and placeholders (``$${`` already made a literal ``${``)."""
    out: list[Segment] = []
    buf: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        buf.append(text[pos:m.start()])
        pos = m.end()
        if m.group(0) == ESCAPE:
            buf.append("${")
        elif m.group(1) is None:
            raise TemplateError("'${' opens a placeholder that is never closed with '}'", _HINT)
        else:
            if buf:
                out.append("".join(buf))
                buf = []
            name = m.group(1).strip()
            if name.startswith(ENV_PREFIX) and not ENV_NAME.match(name[len(ENV_PREFIX):]):
                raise TemplateError(f"${{{name}}} does not name an environment variable",
                                    "write ${env.NAME} with NAME made of letters, digits and _")
            out.append(Var(name))
    buf.append(text[pos:])
    tail = "".join(buf)
    if tail:
        out.append(tail)
    return [s for s in out if s != ""]


def encode(literal: str) -> str:
    """A literal as the plan writes it: every ``${`` escaped."""
    return literal.replace("${", ESCAPE)


def env_var_name(name: str) -> str:
    """The environment variable a step runner sets for ``model.*`` or ``target.KEY``."""
    return "GATE_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def variables_env(model_name: str, model_version: str,
                  target: Mapping[str, Any]) -> dict[str, str]:
    """``GATE_MODEL_NAME``, ``GATE_MODEL_VERSION``, ``GATE_TARGET_<KEY>``: every step gets them."""
    out = {"GATE_MODEL_NAME": model_name, "GATE_MODEL_VERSION": model_version}
    for key, value in target.items():
        out[env_var_name(f"target.{key}")] = value_text(value)
    return out


def plan_env(plan: Mapping[str, Any]) -> dict[str, str]:
    """``variables_env`` of a plan gate wrote: a rollback plan (the candidate version) or a
    recalibration plan (the model's version; its target may be empty)."""
    model = plan["model"]
    version = model["candidate_version"] if "candidate_version" in model else model["version"]
    return variables_env(str(model["name"]), str(version), plan.get("target") or {})


def value_text(value: Any) -> str:
    """A target value as text: a placeholder's value and a step's variable alike."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


Mode = Literal["plain", "url", "header"]
_URL_HEAD = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*$")


def _lookup(var: Var, variables: Mapping[str, str]) -> str:
    if var.name not in variables:
        raise TemplateError(f"unknown placeholder ${{{var.name}}}", _HINT)
    return variables[var.name]


def render(text: str, variables: Mapping[str, str], mode: Mode = "plain") -> str:
    """``text`` for the plan: values substituted and escaped, ``${env.NAME}`` kept."""
    out: list[str] = []
    literal: list[str] = []
    for seg in parse(text):
        if isinstance(seg, str):
            literal.append(seg)
            continue
        if seg.is_env:
            run = "".join(literal)
            if run.endswith("$"):
                raise TemplateError(f"a '$' right before ${{{seg.name}}} would read as the "
                                    "escape $${", "put another character between them")
            out += [encode(run), "${" + seg.name + "}"]
            literal = []
            continue
        value = _lookup(seg, variables)
        if mode == "url" and not (_URL_HEAD.match("".join(literal)) or not "".join(literal)):
            value = quote(value, safe="")  # in the path, query or fragment: data, not syntax
        if mode == "header" and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise TemplateError(f"the value of ${{{seg.name}}} holds a control character, "
                                "which cannot go into an HTTP header",
                                "fix the value in gate.yaml, or send it in the body")
        literal.append(value)
    out.append(encode("".join(literal)))
    return "".join(out)


def render_shell(text: str, variables: Mapping[str, str], env_out: dict[str, str]) -> str:
    """A shell script for the plan: placeholders become quoted variable references.

    ``${env.NAME}`` becomes ``$NAME``, and ``NAME: ${env.NAME}`` is added to
    ``env_out`` so the runner checks that the deploy job sets it.
    """
    segments = parse(text)
    if not any(isinstance(s, Var) for s in segments):
        return encode("".join(s for s in segments if isinstance(s, str)))
    _refuse_opaque("".join(s if isinstance(s, str) else " " for s in segments))
    quoting = _Quoting()
    for k, seg in enumerate(segments):
        if isinstance(seg, str):
            quoting.feed(seg)
            continue
        nxt = segments[k + 1] if k + 1 < len(segments) else ""
        glued = isinstance(nxt, str) and (nxt[:1].isalnum() or nxt[:1] == "_")
        quoting.reference(seg, _shell_name(seg, variables, env_out), glued)
    return quoting.finish()


def _refuse_opaque(code: str) -> None:
    for token, what in _OPAQUE:
        if token in code:
            raise TemplateError(
                f"this shell string uses {what}, so gate cannot quote a placeholder in it",
                "write the value as a shell variable yourself (\"$GATE_MODEL_NAME\", "
                "\"$GATE_MODEL_VERSION\", \"$GATE_TARGET_<KEY>\", \"$NAME\" for ${env.NAME}), or "
                "use an argv list")
    reparse = _REPARSE.search(code)
    if reparse:
        raise TemplateError(
            f"this shell string runs {reparse.group(1).strip()!r}, which could read a value as "
            "code again, so it takes no placeholder",
            "pass the value as an argument of an argv list, or through the environment")


class _Quoting:
    """Where a POSIX shell string stands (outside quotes, in '...', in "...", in a comment)."""

    def __init__(self) -> None:
        self.out: list[str] = []
        self.state = "normal"
        self.word_start = True
        self.escaped = False  # the last character was an unquoted backslash

    def feed(self, text: str) -> None:
        for ch in text:
            self.out.append(ch)
            if self.escaped:
                self.escaped = self.word_start = False
            elif self.state == "comment":
                self.state = "normal" if ch == "\n" else "comment"
                self.word_start = ch == "\n"
            elif self.state == "single":
                self.state = "normal" if ch == "'" else "single"
            elif self.state == "double":
                self.escaped = ch == "\\"
                self.state = "normal" if ch == '"' else "double"
            else:
                self._normal(ch)

    def _normal(self, ch: str) -> None:
        if ch == "\\":
            self.escaped = True
        elif ch in "'\"":
            self.state = "single" if ch == "'" else "double"
        elif ch == "#" and self.word_start:
            self.state = "comment"
        self.word_start = ch.isspace() or ch in ";&|()<>"

    def reference(self, var: Var, name: str, glued: bool) -> None:
        if self.escaped:
            raise TemplateError(f"${{{var.name}}} follows a backslash",
                                "remove the backslash (gate quotes the value itself)")
        if self.out and self.out[-1] == "$":
            raise TemplateError(f"a '$' right before ${{{var.name}}} is ambiguous",
                                "put another character between them")
        if self.state == "double":
            self.out.append(f"${name}" + ('""' if glued else ""))
        elif self.state == "single":
            self.out.append(f"'\"${name}\"'")
        else:
            self.out.append(f'"${name}"')
        self.word_start = False

    def finish(self) -> str:
        if self.state in ("single", "double") or self.escaped:
            raise TemplateError("this shell string ends inside a quote or after a backslash",
                                "close every quote in the run: string")
        return "".join(self.out)


def _shell_name(var: Var, variables: Mapping[str, str], env_out: dict[str, str]) -> str:
    if var.is_env:
        name = var.env_name
        if name.startswith(RESERVED_ENV):
            raise TemplateError(f"${{{var.name}}} names a variable gate sets itself",
                                f"write \"${name}\" in the shell string")
        env_out[name] = "${" + var.name + "}"
        return name
    _lookup(var, variables)
    return env_var_name(var.name)


def shell_script_index(argv: list[str]) -> int | None:
    """The index of the script in ``[sh, -c, SCRIPT, ...]`` (any shell of SHELLS), else None."""
    if not argv or os.path.basename(argv[0]) not in SHELLS:
        return None
    i, has_c = 1, False
    if os.path.basename(argv[0]) == "busybox":
        if len(argv) < 2 or argv[1] not in SHELLS:
            return None
        i = 2
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-o", "+o", "-O", "+O"):
            i += 2
            continue
        if len(arg) > 1 and arg[0] in "-+" and not arg.startswith("--"):
            has_c = has_c or "c" in arg[1:]
            i += 1
            continue
        if arg.startswith("--"):
            i += 1
            continue
        break
    return i if has_c and i < len(argv) else None


def render_command(spec: Any, variables: Mapping[str, str],
                   env_out: dict[str, str]) -> Any:
    """A ``run:`` command for the plan: argv elements rendered, shell scripts made safe."""
    if isinstance(spec, str):
        return render_shell(spec, variables, env_out)
    if isinstance(spec, list):
        strings = [str(a) for a in spec]
        script = shell_script_index([parse_literal(a) for a in strings])
        return [render_shell(a, variables, env_out) if i == script else render(a, variables)
                for i, a in enumerate(strings)]
    return spec


def parse_literal(text: str) -> str:
    """The literal text of a template with placeholders dropped (to recognise a program)."""
    try:
        return "".join(s for s in parse(text) if isinstance(s, str))
    except TemplateError:
        return text


def render_http(spec: Any, variables: Mapping[str, str]) -> Any:
    """An ``http:`` block for the plan: URL, headers and body rendered for where they go."""
    if not isinstance(spec, Mapping):
        return spec
    out = dict(spec)
    if isinstance(out.get("url"), str):
        out["url"] = render(out["url"], variables, "url")
    if isinstance(out.get("headers"), Mapping):
        out["headers"] = {k: render(v, variables, "header") if isinstance(v, str) else v
                          for k, v in out["headers"].items()}
    if "body" in out:
        out["body"] = walk(out["body"], lambda s: render(s, variables))
    return out


def walk(value: Any, fn: Callable[[str], str]) -> Any:
    """``value`` with ``fn`` applied to every string in it (mapping keys are left alone)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, list):
        return [walk(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: walk(v, fn) for k, v in value.items()}
    return value


# --- in the plan, and when a step runs ------------------------------------------


class MissingEnv(KeyError):
    """An ``${env.NAME}`` whose variable is not set; ``args[0]`` is NAME."""


def expand(text: str, env: Mapping[str, str]) -> str:
    """A plan string as the step gets it: one pass, ``${env.NAME}`` read, ``$${`` -> ``${``."""
    def repl(m: re.Match[str]) -> str:
        if m.group(0) == ESCAPE:
            return "${"
        name = (m.group(1) or "").strip()
        if m.group(1) is None or not name.startswith(ENV_PREFIX):
            raise ValueError(f"the plan holds {m.group(0)!r}, which is not ${{env.NAME}}")
        var = name[len(ENV_PREFIX):]
        if var not in env:
            raise MissingEnv(var)
        return env[var]

    return _TOKEN.sub(repl, text)


def plan_string_problem(text: str, *, shell: bool) -> str | None:
    """What is wrong with a string of a plan for ``expand``, or None."""
    for m in _TOKEN.finditer(text):
        if m.group(0) == ESCAPE:
            continue
        name = (m.group(1) or "").strip()
        if m.group(1) is None:
            return "'${' is never closed (a literal ${ is written $${ in a plan)"
        if not name.startswith(ENV_PREFIX) or not ENV_NAME.match(name[len(ENV_PREFIX):]):
            return f"${{{name}}} is not a placeholder a plan may hold (only ${{env.NAME}})"
        if shell:
            return (f"${{{name}}} in a shell script would paste a value into code; a plan "
                    f"written by gate refers to it as \"${name[len(ENV_PREFIX):]}\"")
    return None


Place = tuple[str, str, bool]  # (JSON path, string, whether it is shell code)


def string_places(value: Any, pointer: str, shell: bool = False) -> list[Place]:
    """Every string in ``value`` with its JSON path below ``pointer``."""
    if isinstance(value, str):
        return [(pointer, value, shell)]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in string_places(v, f"{pointer}[{i}]", shell)]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in string_places(v, json_path([k], pointer))]
    return []
