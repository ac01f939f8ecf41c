"""YAML files read into `Located` trees: every value knows its file, line and field path.

Built on PyYAML's composed nodes (SafeLoader), so that duplicate keys are caught (YAML keeps the
last one silently) and `${VAR}` / `${VAR:-default}` is expanded in scalars after parsing: a
variable's value can never change the document's structure, nor appear in an error message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from monitor.errors import ConfigError, ConfigErrors

Scalar = str | int | float | bool | date | bytes | None

# `$${` is a literal `${`; `${NAME}` and `${NAME:-default}` are references; a lone `${` is an error.
_REFERENCE = re.compile(r"\$\$\{|\$\{(?P<body>[^}]*)\}|\$\{")
_BODY = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>.*))?", re.DOTALL)
_REFERENCE_HINT = "use ${VAR} or ${VAR:-default}, and $${ for a literal ${"
_MERGE_KEY = "<<"
_STR_TAG = "tag:yaml.org,2002:str"
# libyaml's parser, when PyYAML was built with it, composes the same nodes as the pure-Python
# one about 13x faster (0.33 s against 0.025 s for the shipped rules and actor lists). The two
# differ on a few constructs: libyaml accepts a tab between flow items, `?` inside a plain
# scalar in [...] or {...}, and `|#`; it reads a bare `!` tag and a byte order mark inside the
# text otherwise, and counts lines differently around the Unicode line breaks (NEL, LS, PS). A
# document with any of these characters, or one that libyaml rejects, is read by the pure-Python
# parser, so that what is accepted, every value and line, and every message stay the same.
# An alias copies its anchor's whole value, so a few hundred bytes of nested aliases can stand for
# billions of values ("billion laughs"). The values copied through aliases are counted and a file
# that goes beyond either limit is refused; what a file writes out itself is bounded by its size.
MAX_ALIASES = 10_000
MAX_ALIASED_VALUES = 100_000
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)
_FAST_LOADER_DIFFERS = re.compile("[\t?!\x85\u2028\u2029\ufeff]|[|>][-+0-9]*#")


@dataclass(frozen=True, slots=True, eq=False)
class Located:
    """A YAML value with where it came from. Mappings hold `dict[str, Located]`, lists a tuple.

    `field` is the path used in messages (`feeds[2].interval`); `template` is the text as
    written when `${...}` was expanded (the value is then always a string); `unresolved` marks a
    value whose expansion failed (and was reported).
    """

    value: Scalar | Mapping[str, Located] | tuple[Located, ...]
    source: str
    line: int
    field: str = ""
    key_lines: Mapping[str, int] = dataclasses.field(default_factory=dict)
    template: str | None = None
    unresolved: bool = False

    @property
    def mapping(self) -> Mapping[str, Located] | None:
        return self.value if isinstance(self.value, Mapping) else None

    @property
    def sequence(self) -> tuple[Located, ...] | None:
        return self.value if isinstance(self.value, tuple) else None

    @property
    def kind(self) -> str:
        """What the value is, for messages: `a mapping`, `a list`, `a string`, ..."""
        return _kind(self.value)

    def at(self, *path: str | int) -> Located:
        """The node at `path` (keys and list indexes). Raises KeyError or IndexError."""
        node = self
        for step in path:
            if isinstance(step, int) and node.sequence is not None:
                node = node.sequence[step]
            elif isinstance(step, str) and node.mapping is not None:
                node = node.mapping[step]
            else:
                raise KeyError(f"{node.field or '<root>'} has no {step!r}")
        return node

    def line_of(self, *path: str | int) -> int:
        """The line (1-based) where the value at `path` starts."""
        return self.at(*path).line

    def error(self, message: str, *, key: str | None = None) -> ConfigError:
        """A ConfigError located at this value, or at one of its keys (`field` stays this one)."""
        line = self.key_lines.get(key, self.line) if key is not None else self.line
        return ConfigError(message, path=self.source, line=line, field=self.field or None)

    def shown(self) -> str:
        """The value quoted for a message; an expanded `${VAR}` shows as written, not its value."""
        if self.template is not None:
            return f'"{self.template}" (from the environment)'
        if isinstance(self.value, str):
            return f'"{self.value}"'
        return self.kind if self.value is None else str(self.value)

    def plain(self) -> Any:
        """The value as ordinary Python data (dicts, lists, scalars), without locations."""
        if self.mapping is not None:
            return {key: child.plain() for key, child in self.mapping.items()}
        if self.sequence is not None:
            return [child.plain() for child in self.sequence]
        return self.value


def _kind(value: object) -> str:
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (Mapping, "a mapping"),
        (tuple, "a list"),
        (str, "a string"),
        (bool, "a boolean"),
        ((int, float), "a number"),
        (date, "a date"),
        (bytes, "binary data"),
    ]
    if value is None:
        return "nothing (null)"
    return next((name for cls, name in kinds if isinstance(value, cls)), type(value).__name__)


def load_yaml(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    errors: list[ConfigError] | None = None,
    source: str | None = None,
) -> Located:
    """Read and parse the YAML file at `path` (see `parse_yaml`); `source` names it in messages.

    Raises ConfigErrors when the file cannot be read.
    """
    name = str(path) if source is None else source
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigErrors([ConfigError("file not found", path=name)]) from None
    except IsADirectoryError:
        raise ConfigErrors([ConfigError("is a folder, not a file", path=name)]) from None
    except UnicodeDecodeError as exc:
        message = f"is not UTF-8 text (byte {exc.start})"
        raise ConfigErrors([ConfigError(message, path=name)]) from None
    except OSError as exc:
        message = f"cannot be read: {exc.strerror or exc}"
        raise ConfigErrors([ConfigError(message, path=name)]) from None
    return parse_yaml(text, name, environ=environ, errors=errors)


def parse_yaml(
    text: str,
    source: str,
    *,
    environ: Mapping[str, str] | None = None,
    errors: list[ConfigError] | None = None,
) -> Located:
    """Parse one YAML document into a `Located` tree, expanding `${VAR}` from `environ`
    (default `os.environ`).

    Duplicate keys and bad or missing variables are appended to `errors` when it is given
    (the tree is still returned, best effort); otherwise they are raised together as ConfigErrors.
    A syntax error always raises.
    """
    variables = os.environ if environ is None else environ
    found: list[ConfigError] = []
    tree = None
    if _FAST_LOADER is not None and not _FAST_LOADER_DIFFERS.search(text):
        with contextlib.suppress(yaml.YAMLError):  # read again below, for the message
            tree = _compose(_FAST_LOADER, text, source, variables, found)
    if tree is None:
        found.clear()
        try:
            tree = _compose(yaml.SafeLoader, text, source, variables, found)
        except yaml.YAMLError as exc:
            raise ConfigErrors([_syntax_error(exc, source, text)]) from None
    if errors is not None:
        errors.extend(found)
    elif found:
        raise ConfigErrors(sorted(found, key=lambda e: e.line or 0))
    return tree


def _compose(
    loader_class: type[yaml.SafeLoader],
    text: str,
    source: str,
    environ: Mapping[str, str],
    found: list[ConfigError],
) -> Located:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return Located(None, source, 1)
        return _Builder(loader, source, environ, found).build(root, "", frozenset())
    finally:
        loader.dispose()


def _syntax_error(exc: yaml.YAMLError, source: str, text: str) -> ConfigError:
    if not isinstance(exc, yaml.MarkedYAMLError):
        return ConfigError(f"invalid YAML: {exc}", path=source)
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    start = exc.context_mark.line + 1 if exc.context_mark is not None else None
    plain = _plain_problem(exc.problem or "", exc.context or "", start, _line_text(text, line))
    if plain is not None:
        message, line = plain[0], plain[1] or line
    else:
        message = str(exc.problem or exc.context)
        if exc.context and exc.problem and start is not None:
            message += f" ({exc.context} on line {start})"
    return ConfigError(f"invalid YAML: {message}", path=source, line=line)


_INDENTATION = "this line's indentation does not match the lines above"
_UNCLOSED = (
    'the {what} that starts on line {start} is not closed with "{end}", or a value in it '
    "needs quotes"
)
# PyYAML's "problem\ncontext" -> the message in plain words, and whether to report it at the
# line where the construct started (its context) rather than where PyYAML gave up.
_PLAIN: tuple[tuple[re.Pattern[str], str, bool], ...] = tuple(
    (re.compile(pattern, re.DOTALL), message, at_start)
    for pattern, message, at_start in (
        (r"found character '\\t' that cannot start",
         "a tab character cannot indent YAML; use spaces", False),
        (r"found character '(?P<char>.+)' that cannot start any token",
         '"{char}" cannot start a value: put the value in quotes', False),
        (r"found unexpected end of stream\nwhile scanning a quoted scalar",
         "an unclosed quote that started at line {start}", True),
        (r"expected <block end>", _INDENTATION, False),
        (r"mapping values are not allowed here",
         'a ":" in a value needs quotes (title: "Note: this"), or ' + _INDENTATION, False),
        (r"could not find expected ':'",
         'a key needs a ":" after it, or a value over several lines needs quotes', True),
        (r"found undefined alias '(?P<name>.+)'",
         'the alias "*{name}" names no anchor: write "&{name}" on a value before it', False),
        (r"found duplicate anchor", "an anchor (&name) is defined twice: give each its own name",
         False),
        (r"expected ',' or '\]'.*\nwhile parsing a flow sequence",
         _UNCLOSED.replace("{what}", "list").replace("{end}", "]"), False),
        (r"expected ',' or '\}'.*\nwhile parsing a flow mapping",
         _UNCLOSED.replace("{what}", "mapping").replace("{end}", "}}"), False),
    )
)  # fmt: skip


def _plain_problem(
    problem: str, context: str, start: int | None, line_text: str
) -> tuple[str, int | None] | None:
    """PyYAML's problem in plain words, and the line to report it at (None: where PyYAML
    found it); None when there is no plainer way to say it."""
    if "flow" in context and problem.startswith("expected ','") and "${" in line_text:
        # In [a, b] and {k: v}, `{` is syntax: `[${TAG}]` must be written `["${TAG}"]`.
        return 'inside [...] or {...}, quote a value that uses ${VAR}: "${VAR}"', None
    for pattern, message, at_start in _PLAIN:
        if found := pattern.match(f"{problem}\n{context}"):
            return message.format(start=start, **found.groupdict()), start if at_start else None
    return None


def _line_text(text: str, line: int | None) -> str:
    lines = text.splitlines()
    return lines[line - 1] if line is not None and 0 < line <= len(lines) else ""


@dataclass(slots=True)
class _Builder:
    """Walks composed nodes into `Located`, reporting duplicates and bad `${...}` references."""

    loader: yaml.SafeLoader
    source: str
    environ: Mapping[str, str]
    errors: list[ConfigError]
    built: set[int] = dataclasses.field(default_factory=set)  # nodes met once already
    aliases: int = 0
    aliased_values: int = 0
    # Where the latest alias was used: its own node is the anchor's, which knows only its line.
    alias_use: tuple[int, str] = (1, "")
    written_line: int = 1  # the line of the latest value not copied by an alias

    def build(
        self, node: yaml.Node, field: str, parents: frozenset[int], *, copying: bool = False
    ) -> Located:
        line = node.start_mark.line + 1
        if id(node) in parents:
            self._report("an alias refers to itself (recursive YAML)", line, field)
            return Located(None, self.source, line, field, unresolved=True)
        parents = parents | {id(node)}
        again = id(node) in self.built  # an alias, or a value inside one: a copy
        if again:
            self._count_copy(field, alias=not copying)
        else:
            self.built.add(id(node))
            self.written_line = line
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, field, parents, copying=again)
        if isinstance(node, yaml.SequenceNode):
            items = tuple(
                self.build(item, f"{field}[{i}]", parents, copying=again)
                for i, item in enumerate(node.value)
            )
            return Located(items, self.source, line, field)
        assert isinstance(node, yaml.ScalarNode)
        return self._scalar(node, field)

    def _count_copy(self, field: str, *, alias: bool) -> None:
        """Counts a value copied by an alias; raises ConfigErrors past either limit."""
        if alias:
            self.aliases += 1
            self.alias_use = (self.written_line, field)
        self.aliased_values += 1
        if self.aliases > MAX_ALIASES:
            problem = f"more than {MAX_ALIASES} aliases (*name)"
        elif self.aliased_values > MAX_ALIASED_VALUES:
            problem = f"aliases (*name) that expand to more than {MAX_ALIASED_VALUES} values"
        else:
            return
        message = (
            f"the file uses {problem}: refused, as a YAML alias bomb would be; "
            "write the values out instead"
        )
        line, where = self.alias_use
        raise ConfigErrors([ConfigError(message, path=self.source, line=line, field=where or None)])

    def _mapping(
        self, node: yaml.MappingNode, field: str, parents: frozenset[int], *, copying: bool
    ) -> Located:
        values: dict[str, Located] = {}
        key_lines: dict[str, int] = {}
        merged: dict[str, Located] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self._report("a key must be a plain string, not a list or mapping", key_line, field)
                continue
            key = str(key_node.value)
            child = f"{field}.{key}" if field else key
            if key == _MERGE_KEY and key_node.tag == "tag:yaml.org,2002:merge":
                merged.update(self._merge(value_node, field, parents, copying=copying))
                continue
            if not copying:
                self.written_line = key_line
            if key in key_lines:
                first = key_lines[key]
                self._report(f'duplicate key "{key}" (first on line {first})', key_line, field)
            key_lines[key] = key_line
            values[key] = self.build(value_node, child, parents, copying=copying)
        # `<<: *defaults` fills only the keys the mapping does not set itself.
        for key, value in merged.items():
            if key not in values:
                values[key] = value
                key_lines[key] = value.line
        return Located(values, self.source, node.start_mark.line + 1, field, key_lines)

    def _merge(
        self, node: yaml.Node, field: str, parents: frozenset[int], *, copying: bool
    ) -> Iterator[tuple[str, Located]]:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for anchor in reversed(sources):  # earlier ones win, as in YAML's merge key spec
            built = self.build(anchor, field, parents, copying=copying)
            if built.mapping is None:
                self._report("<< must name a mapping (or a list of them)", built.line, field)
                continue
            yield from built.mapping.items()

    def _scalar(self, node: yaml.ScalarNode, field: str) -> Located:
        line = node.start_mark.line + 1
        if node.tag == _STR_TAG:  # most values: what SafeConstructor returns, without its steps
            value: Any = node.value
        else:
            try:
                value = self.loader.construct_object(node)
            except (yaml.YAMLError, ValueError) as exc:
                problem = getattr(exc, "problem", None) or str(exc)
                self._report(f"invalid value: {problem}", line, field)
                return Located(None, self.source, line, field, unresolved=True)
        if not isinstance(value, str) or "${" not in value:
            return Located(value, self.source, line, field)
        expanded, referenced = self._expand(value, line, field)
        if expanded is None:
            return Located(None, self.source, line, field, template=value, unresolved=True)
        if not referenced:  # only `$${` escapes
            return Located(expanded, self.source, line, field)
        # Always a string, even unquoted: a value cannot turn `title: ${T}` into a boolean.
        return Located(expanded, self.source, line, field, template=value)

    def _expand(self, text: str, line: int, field: str) -> tuple[str | None, bool]:
        """`text` with every reference replaced (None after reporting a bad or missing one),
        and whether it held a `${VAR}` reference rather than only `$${` escapes."""
        parts: list[str] = []
        ok, referenced = True, False
        position = 0
        for match in _REFERENCE.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            referenced = referenced or match.group(0) != "$${"
            replacement = self._replacement(match, line, field)
            ok = ok and replacement is not None
            parts.append(replacement or "")
        parts.append(text[position:])
        return ("".join(parts) if ok else None), referenced

    def _replacement(self, match: re.Match[str], line: int, field: str) -> str | None:
        if match.group(0) == "$${":
            return "${"
        body = match.group("body")
        parsed = _BODY.fullmatch(body) if body is not None else None
        if parsed is None:
            self._report(f'bad reference "{match.group(0)}": {_REFERENCE_HINT}', line, field)
            return None
        name, default = parsed.group("name"), parsed.group("default")
        value = self.environ.get(name)
        if value:
            return value
        if default is not None:
            return default
        if value is None:
            self._report(f"environment variable {name} is not set", line, field)
            return None
        return value

    def _report(self, message: str, line: int, field: str) -> None:
        self.errors.append(ConfigError(message, path=self.source, line=line, field=field or None))
