"""The `query:` language: parsed into a small syntax tree, errors located by column.

The tree is the one the matcher evaluates: compiling fills in its leaves' refs (`resolve`).
`children` and `walk` are the one way through it for code that does not evaluate it.

    query  := or
    or     := and ("OR" and)*
    and    := near ("AND" near)*
    near   := unary ("NEAR/n" unary)*      within n words: at most n other words between, any order
    unary  := "NOT" unary | primary
    primary:= "(" or ")" | "phrase" | word | word* | @actor

Operators are upper-case. Adjacent operands without an operator are an error (`peace treaty`
is ambiguous: write "peace treaty" or peace AND treaty). NEAR joins terms, phrases, @actors,
or parenthesised OR groups and NEAR chains of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from monitor.match.terms import REGEX_PREFIX, RuleError

__all__ = [
    "ActorRef",
    "And",
    "Leaf",
    "Near",
    "Not",
    "Or",
    "QueryNode",
    "Term",
    "children",
    "parse_query",
    "render",
    "resolve",
    "walk",
]

_QUOTES = {'"': '"', "“": "”", "„": "“"}
_WORD_END = set('()"“”„') | {" ", "\t", "\n", "\r"}
_ACTOR_ID = re.compile(r"[\w.-]+")
_NEAR = re.compile(r"NEAR/(\d{1,4})")
_OPERATORS = {"AND", "OR", "NOT"}
_LOWER_OPERATORS = {"and", "or", "not", "near"}


UNRESOLVED = -(1 << 62)  # a leaf's ref before compile_rules resolves it


@dataclass(frozen=True, slots=True)
class Term:
    text: str  # as written: a word, a phrase (without its quotes) or a prefix*
    column: int
    quoted: bool = False
    ref: int = UNRESOLVED  # once compiled: the term's ref (a literal >= 0, ~regex < 0)


@dataclass(frozen=True, slots=True)
class ActorRef:
    id: str
    column: int
    actor: int = UNRESOLVED  # once compiled: the actor's index


@dataclass(frozen=True, slots=True)
class Not:
    operand: QueryNode
    column: int


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[QueryNode, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[QueryNode, ...]


@dataclass(frozen=True, slots=True)
class Near:
    left: QueryNode
    right: QueryNode
    distance: int
    column: int


QueryNode = Term | ActorRef | Not | And | Or | Near
Leaf = Term | ActorRef


def children(node: QueryNode) -> tuple[QueryNode, ...]:
    """A node's operands, in order: none for a leaf, NEAR's two sides."""
    if isinstance(node, And | Or):
        return node.operands
    if isinstance(node, Near):
        return (node.left, node.right)
    if isinstance(node, Not):
        return (node.operand,)
    return ()


def walk(node: QueryNode | None, negated: bool = False) -> Iterator[tuple[QueryNode, bool]]:
    """Every node of the tree, depth first, each with whether it is under a NOT."""
    if node is None:
        return
    yield node, negated
    inner = negated or isinstance(node, Not)
    for child in children(node):
        yield from walk(child, inner)


def resolve(node: QueryNode, leaf: Callable[[Leaf], Leaf]) -> QueryNode:
    """The same tree with each leaf replaced by `leaf(it)` (compiling gives it its ref)."""
    if isinstance(node, Term | ActorRef):
        return leaf(node)
    if isinstance(node, Not):
        return Not(resolve(node.operand, leaf), node.column)
    if isinstance(node, Near):
        left, right = resolve(node.left, leaf), resolve(node.right, leaf)
        return Near(left, right, node.distance, node.column)
    operands = tuple(resolve(child, leaf) for child in node.operands)
    return And(operands) if isinstance(node, And) else Or(operands)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # ( ) AND OR NOT NEAR TERM ACTOR END
    text: str
    column: int
    distance: int = 0
    quoted: bool = False

    def describe(self) -> str:
        if self.kind == "END":
            return "the end of the query"
        return f'"{self.text}"' if self.kind == "TERM" else self.text


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(query):
        char = query[i]
        if char.isspace():
            i += 1
        elif char in "()":
            tokens.append(_Token(char, char, i + 1))
            i += 1
        elif char in _QUOTES:
            i = _read_phrase(query, i, tokens)
        elif char == "@":
            i = _read_actor(query, i, tokens)
        else:
            i = _read_word(query, i, tokens)
    tokens.append(_Token("END", "", len(query) + 1))
    return tokens


def _read_phrase(query: str, start: int, tokens: list[_Token]) -> int:
    end = query.find(_QUOTES[query[start]], start + 1)
    if end < 0:
        raise RuleError(f"unterminated quote at column {start + 1}", column=start + 1)
    text = query[start + 1 : end]
    if not text.strip():
        raise RuleError(f"empty phrase at column {start + 1}", column=start + 1)
    tokens.append(_Token("TERM", text, start + 1, quoted=True))
    return end + 1


def _read_actor(query: str, start: int, tokens: list[_Token]) -> int:
    found = _ACTOR_ID.match(query, start + 1)
    if found is None:
        raise RuleError(f"expected an actor id after @ at column {start + 1}", column=start + 1)
    tokens.append(_Token("ACTOR", found.group(), start + 1))
    return found.end()


def _read_word(query: str, start: int, tokens: list[_Token]) -> int:
    end = start
    while end < len(query) and query[end] not in _WORD_END:
        end += 1
    word, column = query[start:end], start + 1
    if word in _OPERATORS:
        tokens.append(_Token(word, word, column))
    elif word == "NEAR" or word.startswith("NEAR/"):
        near = _NEAR.fullmatch(word)
        if near is None:
            raise RuleError(
                f"NEAR needs a distance, like NEAR/5, at column {column}", column=column
            )
        tokens.append(_Token("NEAR", word, column, distance=int(near.group(1))))
    elif word.startswith(REGEX_PREFIX):
        message = f"regular expressions are not supported in a query (column {column}): "
        raise RuleError(message + "put them in keywords", column=column)
    elif word[0] in "-+!":
        message = f'"{word[0]}" before a term at column {column}: use NOT to exclude a term'
        raise RuleError(message, column=column)
    else:
        tokens.append(_Token("TERM", word, column))
    return end


class _Parser:
    def __init__(self, query: str) -> None:
        self.tokens = _tokenize(query)
        self.position = 0

    @property
    def token(self) -> _Token:
        return self.tokens[self.position]

    def take(self) -> _Token:
        token = self.token
        self.position += 1
        return token

    def parse(self) -> QueryNode:
        if self.token.kind == "END":
            raise RuleError("empty query", column=1)
        node = self.parse_or()
        if self.token.kind == ")":
            column = self.token.column
            raise RuleError(f"unbalanced parenthesis at column {column}", column=column)
        if self.token.kind != "END":
            raise self.missing_operator()
        return node

    def parse_or(self) -> QueryNode:
        operands = [self.parse_and()]
        while self.token.kind == "OR":
            self.take()
            operands.append(self.parse_and())
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self) -> QueryNode:
        operands = [self.parse_near()]
        while self.token.kind == "AND":
            self.take()
            operands.append(self.parse_near())
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_near(self) -> QueryNode:
        node = self.parse_unary()
        while self.token.kind == "NEAR":
            near = self.take()
            right = self.parse_unary()
            for operand in (node, right):
                _check_positional(operand, near.column)
            node = Near(node, right, near.distance, near.column)
        return node

    def parse_unary(self) -> QueryNode:
        if self.token.kind == "NOT":
            token = self.take()
            return Not(self.parse_unary(), token.column)
        return self.parse_primary()

    def parse_primary(self) -> QueryNode:
        token = self.take()
        if token.kind == "TERM":
            return Term(token.text, token.column, token.quoted)
        if token.kind == "ACTOR":
            return ActorRef(token.text, token.column)
        if token.kind == "(":
            if self.token.kind == ")":
                message = f"empty parentheses at column {token.column}"
                raise RuleError(message, column=token.column)
            node = self.parse_or()
            if self.token.kind == ")":
                self.take()
                return node
            if self.token.kind == "END":
                message = f"unbalanced parenthesis at column {token.column}"
                raise RuleError(message, column=token.column)
            raise self.missing_operator()
        if token.kind == ")":
            raise RuleError(f"unbalanced parenthesis at column {token.column}", column=token.column)
        message = f"expected a term, phrase, @actor or ( before {token.describe()}"
        raise RuleError(f"{message} at column {token.column}", column=token.column)

    def missing_operator(self) -> RuleError:
        token, previous = self.token, self.tokens[self.position - 1]
        message = (
            f"missing operator between {previous.describe()} and {token.describe()} at column "
            f"{token.column}: write AND, OR or NEAR/n, or quote a phrase"
        )
        if {token.text, previous.text} & _LOWER_OPERATORS:
            message += " (operators are written in capitals)"
        return RuleError(message, column=token.column)


def _check_positional(node: QueryNode, column: int) -> None:
    if isinstance(node, Term | ActorRef):
        return
    if isinstance(node, Or | Near):
        for child in children(node):
            _check_positional(child, column)
        return
    message = f"NEAR at column {column} joins terms, phrases, @actors or OR groups of them"
    raise RuleError(f"{message}, not AND or NOT", column=column)


def parse_query(query: str) -> QueryNode:
    """The syntax tree of a `query:` string. Raises RuleError with the column of the problem."""
    return _Parser(query).parse()


def render(node: QueryNode) -> str:
    """The query text of a node, parenthesised where precedence needs it."""
    if isinstance(node, Term):
        return f'"{node.text}"' if node.quoted else node.text
    if isinstance(node, ActorRef):
        return f"@{node.id}"
    if isinstance(node, Not):
        return f"NOT {_render_operand(node.operand, Not)}"
    if isinstance(node, Near):
        left, right = _render_operand(node.left, Near), _render_operand(node.right, Near)
        return f"{left} NEAR/{node.distance} {right}"
    joiner = " AND " if isinstance(node, And) else " OR "
    return joiner.join(_render_operand(child, type(node)) for child in node.operands)


_BINDING = {Or: 1, And: 2, Near: 3, Not: 4}


def _render_operand(node: QueryNode, parent: type) -> str:
    text = render(node)
    binding = _BINDING.get(type(node), 5)
    return f"({text})" if binding <= _BINDING[parent] and binding < 5 else text
