"""Rule files: actors and rules loaded with monitor.yaml, every error kind with its file:line."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from monitor.config import ConfigError, ConfigErrors, Settings, load_config
from monitor.config.rules import _cycles, load_rules
from monitor.match import checks, compile_rules
from monitor.models import (
    DEFAULT_RULE_FIELDS,
    ActorLists,
    ActorSpec,
    RuleSpec,
    SourceRef,
    TermLists,
    TermSpec,
)

MONITOR_YAML = """\
feeds:
  - id: tass
    url: https://tass.com/rss/v2.xml
    tags: [russia, wire]
  - id: bbc
    url: https://feeds.bbci.co.uk/news/world/rss.xml
    tags: [uk]
rules: [rules/]
notifiers:
  - id: console
    type: console
  - id: ops
    type: console
"""
# Two actors most cases use, in rules/0-actors.yaml (loaded before rules/a.yaml).
ACTORS = """\
actors:
  - id: armenia
    kind: country
    names: [Armenia, Yerevan]
  - id: russia
    kind: country
    names: [Russia, Moscow]
"""
RULE = "rules:\n  - id: r\n"  # the start of a rule in rules/a.yaml; its keys from line 3

Write = Callable[[Mapping[str, str]], None]
Errors = Callable[..., list[str]]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings from an empty folder, which is also the working folder (paths show relative)."""
    monkeypatch.chdir(tmp_path)
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Writes files under the test folder: monitor.yaml unless given, and the ones given."""

    def write_files(files: Mapping[str, str]) -> None:
        for name, text in {"monitor.yaml": MONITOR_YAML, **files}.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")

    return write_files


@pytest.fixture
def errors_of(settings: Settings, write: Write) -> Errors:
    """The error lines loading ./monitor.yaml gives, after writing `files`."""

    def load(files: Mapping[str, str], environ: Mapping[str, str] | None = None) -> list[str]:
        write(files)
        with pytest.raises(ConfigErrors) as caught:
            load_config(settings, Path("monitor.yaml"), environ=environ or {}, rule_checks=checks)
        assert all(isinstance(e, ConfigError) for e in caught.value.errors)
        return [str(e) for e in caught.value.errors]

    return load


def rule_case(body: str, *expected: str) -> tuple[dict[str, str], list[str]]:
    """rules/a.yaml holding one rule `r` whose keys (from line 3) are `body`."""
    text = RULE + textwrap.indent(textwrap.dedent(body), "    ")
    return {"rules/0-actors.yaml": ACTORS, "rules/a.yaml": text}, list(expected)


def actor_case(body: str, *expected: str) -> tuple[dict[str, str], list[str]]:
    """rules/a.yaml holding one actor `x` whose keys (from line 3) are `body`."""
    text = "actors:\n  - id: x\n" + textwrap.indent(textwrap.dedent(body), "    ")
    return {"rules/0-actors.yaml": ACTORS, "rules/a.yaml": text}, list(expected)


A = "rules/a.yaml"
KEYWORD = "keywords: {any: [peace]}\n"
ERROR_CASES = {
    "unknown top-level key": (
        {"rules/a.yaml": "rule:\n  - id: x\n"},
        [f'{A}:1: unknown key "rule" (did you mean "rules"?)'],
    ),
    "a file that is a list": (
        {"rules/a.yaml": "- id: x\n"},
        [f"{A}:1: a rule file must be a mapping with keys actors and rules, not a list"],
    ),
    "actors not a list": (
        {"rules/a.yaml": "actors: {id: x}\n"},
        [f"{A}:1: actors: expected a list, not a mapping"],
    ),
    "unknown actor key": actor_case(
        "kind: country\nname: [X]\n",
        f'{A}:2: actors[0]: missing required key "names"',
        f'{A}:4: actors[0]: unknown key "name" (did you mean "names"?)',
    ),
    "unknown kind": actor_case(
        "kind: contry\nnames: [X]\n",
        f'{A}:3: actors[0].kind: "contry" is not a kind of actor (did you mean "country"?)',
    ),
    "names not a list": actor_case(
        "kind: country\nnames: Xland\n",
        f"{A}:4: actors[0].names: expected a list, not a string (write [Xland])",
    ),
    "no names": actor_case(
        "kind: country\nnames: []\n",
        f"{A}:4: actors[0].names: must not be empty: give at least one name",
    ),
    "bad case value": actor_case(
        "kind: country\nnames: [{term: XL, case: Sensitive}]\n",
        f'{A}:4: actors[0].names[0].case: "Sensitive" is not a case setting '
        '(did you mean "sensitive"?)',
    ),
    "unknown term key": actor_case(
        "kind: country\nnames:\n  - {term: XL, cse: sensitive}\n",
        f'{A}:5: actors[0].names[0]: unknown key "cse" (did you mean "case"?)',
    ),
    "a term that is only punctuation": actor_case(
        'kind: country\nnames: [Xland, "--"]\n',
        f'{A}:4: actors[0].names[1]: "--" has no letters or digits: it would match nothing',
    ),
    "an empty term": actor_case(
        'kind: country\nnames: [Xland, " "]\n',
        f"{A}:4: actors[0].names[1]: must not be empty",
    ),
    "a number as a term": actor_case(
        "kind: country\nnames: [Xland, 1991]\n",
        f"{A}:4: actors[0].names[1]: expected a string, not a number "
        "(put it in quotes to make it a string)",
    ),
    "unknown part_of actor": actor_case(
        "kind: person\nnames: [X]\npart_of: [rusia, armenia]\n",
        f'{A}:5: actors[0].part_of[0]: unknown actor "rusia" (did you mean "russia"?)',
    ),
    "part_of not a list": actor_case(
        "kind: person\nnames: [X]\npart_of: russia\n",
        f"{A}:5: actors[0].part_of: expected a list, not a string (write [russia])",
    ),
    "unknown rule key": rule_case(
        KEYWORD + "notfy: [ops]\n",
        f'{A}:4: rules[0]: unknown key "notfy" (did you mean "notify"?)',
    ),
    "a rule with no condition": rule_case(
        "description: nothing to look for\n",
        f"{A}:2: rules[0]: the rule has no condition: give keywords, actors or a query",
    ),
    "a rule with only exclusions": rule_case(
        "keywords: {none: [football]}\nactors: {none: [russia]}\n",
        f'{A}:2: rules[0]: the rule has only "none" lists: it would match nearly every '
        'article; add "any" or "all" terms, actors or a query',
    ),
    "keywords as a list": rule_case(
        "keywords: [peace]\n",
        f"{A}:3: rules[0].keywords: expected a mapping with keys any, all and none, not a "
        "list (write keywords: {any: [...]})",
    ),
    "empty keywords": rule_case(
        "keywords: {}\n",
        f"{A}:3: rules[0].keywords: needs at least one of any, all or none",
    ),
    "an empty list": rule_case(
        "keywords: {any: [peace], all: []}\nactors:\n  any:\n",
        f"{A}:3: rules[0].keywords.all: must not be empty: give at least one term",
        f"{A}:5: rules[0].actors.any: must not be empty: give at least one actor id",
    ),
    "unknown list key": rule_case(
        "keywords: {anny: [peace]}\n",
        f'{A}:3: rules[0].keywords: unknown key "anny" (did you mean "any"?)',
    ),
    "regex RE2 cannot compile": rule_case(
        'keywords:\n  any: [peace, "re:(?<=cease)fire", "re:(a)\\\\1"]\n',
        f'{A}:4: rules[0].keywords.any[1]: "re:(?<=cease)fire" is not a regular expression '
        "RE2 accepts: invalid perl operator: (?<= "
        "(RE2 has no lookaround and no backreferences)",
        f'{A}:4: rules[0].keywords.any[2]: "re:(a)\\1" is not a regular expression RE2 '
        "accepts: invalid escape sequence: \\1 (RE2 has no lookaround and no backreferences)",
    ),
    "empty regex": rule_case(
        'keywords: {any: ["re:"]}\n',
        f'{A}:3: rules[0].keywords.any[0]: "re:" is an empty regular expression',
    ),
    "star inside a term": rule_case(
        'keywords: {any: ["peace * treaty"]}\n',
        f'{A}:3: rules[0].keywords.any[0]: "peace * treaty" has "*" inside: "*" only works '
        "at the end of a term, where it makes a prefix",
    ),
    "too short a prefix": rule_case(
        'keywords: {any: ["pe*", "peace *"]}\n',
        f'{A}:3: rules[0].keywords.any[0]: "pe*" is too short a prefix: give at least 3 '
        'letters before "*"',
        f'{A}:3: rules[0].keywords.any[1]: "peace *" is too short a prefix: give at least 3 '
        'letters before "*"',
    ),
    "unknown actor in a rule": rule_case(
        "actors: {all: [armenia, rusia]}\n",
        f'{A}:3: rules[0].actors.all[1]: unknown actor "rusia" (did you mean "russia"?)',
    ),
    "unknown notifier": rule_case(
        KEYWORD + "notify: [consle]\n",
        f'{A}:4: rules[0].notify[0]: unknown notifier "consle" (did you mean "console"?)',
    ),
    "empty notify": rule_case(
        KEYWORD + "notify: []\n",
        f"{A}:4: rules[0].notify: must not be empty: leave notify out to alert every notifier",
    ),
    "unknown feed and tag": rule_case(
        KEYWORD + 'feeds: [tas, "tag:wirre", "tag:sport"]\n',
        f'{A}:4: rules[0].feeds[0]: unknown feed "tas" (did you mean "tass"?)',
        f'{A}:4: rules[0].feeds[1]: no feed has the tag "wirre" (did you mean "wire"?)',
        f'{A}:4: rules[0].feeds[2]: no feed has the tag "sport": the feeds\' tags are '
        "russia, uk or wire",
    ),
    "empty feeds": rule_case(
        KEYWORD + "feeds: []\n",
        f"{A}:4: rules[0].feeds: must not be empty: leave feeds out to watch every feed",
    ),
    "unknown field": rule_case(
        KEYWORD + "fields: [title, titel]\n",
        f'{A}:4: rules[0].fields[1]: "titel" is not a field a rule can look at '
        '(did you mean "title"?)',
    ),
    "empty fields": rule_case(
        KEYWORD + "fields: []\n",
        f"{A}:4: rules[0].fields: must not be empty: leave fields out for title, summary and "
        "content",
    ),
    "negative min_score": rule_case(
        KEYWORD + "min_score: -1\n",
        f"{A}:4: rules[0].min_score: expected a number, 0 or more, not -1",
    ),
    "min_score not a number": rule_case(
        KEYWORD + "min_score: high\n",
        f'{A}:4: rules[0].min_score: expected a number, 0 or more, not "high"',
    ),
    "empty query": rule_case(
        'query: ""\n',
        f"{A}:3: rules[0].query: must not be empty",
    ),
    "query not a string": rule_case(
        "query: [a, b]\n",
        f"{A}:3: rules[0].query: expected a string, not a list",
    ),
    "bad rule id": (
        {"rules/a.yaml": "rules:\n  - id: Caucasus Peace\n    " + KEYWORD},
        [
            f'{A}:2: rules[0].id: "Caucasus Peace" is not a valid id: use lower-case letters, '
            'digits, "-" and "_" (at most 64 characters)'
        ],
    ),
    "missing rule id": (
        {"rules/a.yaml": "rules:\n  - " + KEYWORD},
        [f'{A}:2: rules[0]: missing required key "id"'],
    ),
    "a rule that is not a mapping": (
        {"rules/a.yaml": "rules:\n  - caucasus-peace\n"},
        [
            f"{A}:2: rules[0]: expected a mapping with keys id, description, feeds, fields, "
            "keywords, actors, query, notify, min_score and realert, not a string"
        ],
    ),
    "an invalid actor is not also unknown": (
        {
            "rules/a.yaml": "actors:\n  - id: x\n    kind: state\n    names: [X]\n"
            "rules:\n  - id: r\n    actors: {all: [x]}\n"
        },
        [
            f'{A}:3: actors[0].kind: "state" is not a kind of actor: use country, person, '
            "organization, place or other"
        ],
    ),
    "YAML syntax error": (
        {"rules/a.yaml": "rules:\n  - id: r\n    keywords: {any: [peace]\n"},
        [
            f'{A}:4: invalid YAML: the mapping that starts on line 3 is not closed with "}}", '
            "or a value in it needs quotes"
        ],
    ),
}


@pytest.mark.parametrize(("files", "expected"), ERROR_CASES.values(), ids=ERROR_CASES.keys())
def test_error(errors_of: Errors, files: dict[str, str], expected: list[str]) -> None:
    assert errors_of(files) == expected


def test_part_of_cycles_are_named(errors_of: Errors) -> None:
    text = """\
        actors:
          - id: a
            kind: other
            names: [Alpha]
            part_of: [b]
          - id: b
            kind: other
            names: [Beta]
            part_of: [c]
          - id: c
            kind: other
            names: [Gamma]
            part_of: [a, d]
          - id: d
            kind: other
            names: [Delta]
          - id: e
            kind: other
            names: [Epsilon]
            part_of: [e]
        """
    assert errors_of({"rules/a.yaml": text}) == [
        f"{A}:5: actors[0].part_of[0]: part_of makes a cycle: a -> b -> c -> a",
        f"{A}:20: actors[4].part_of[0]: part_of makes a cycle: e -> e",
    ]


def test_duplicate_ids_across_files_name_both_places(errors_of: Errors) -> None:
    first = "actors:\n  - id: armenia\n    kind: country\n    names: [Armenia]\n"
    first += "rules:\n  - id: peace\n    keywords: {any: [peace]}\n"
    second = "rules:\n  - id: other\n    keywords: {any: [war]}\n"
    second += "  - id: peace\n    keywords: {any: [truce]}\n"
    second += "actors:\n  - id: armenia\n    kind: country\n    names: [Hayastan]\n"

    assert errors_of({"rules/a.yaml": first, "rules/b.yaml": second}) == [
        'rules/b.yaml:4: rules[1].id: duplicate rule id "peace" (first defined at rules/a.yaml:6)',
        'rules/b.yaml:7: actors[0].id: duplicate actor id "armenia" (first defined at '
        'rules/a.yaml:2); to add names to it, write "extends: armenia" instead of '
        '"id: armenia" and give only names and part_of',
    ]


def test_every_error_is_reported_in_file_then_line_order(errors_of: Errors) -> None:
    config = MONITOR_YAML.replace("rules: [rules/]", "rules: [rules/z.yaml, rules/a.yaml]")
    config += "ops_notify: [opps]\n"  # line 14
    z_file = "rules:\n  - id: r1\n    keywords: {any: ['re:(?=x)']}\n    notify: [nobody]\n"
    a_file = "actors:\n  - id: Bad\n    kind: country\n    names: [X]\n"
    a_file += "rules:\n  - id: r2\n    actors: {all: [ghost]}\n"

    lines = errors_of({"monitor.yaml": config, "rules/z.yaml": z_file, "rules/a.yaml": a_file})

    located = [line.split(": ", 1)[0] for line in lines]
    assert located == [
        "monitor.yaml:14",
        "rules/z.yaml:3",
        "rules/z.yaml:4",
        "rules/a.yaml:2",
        "rules/a.yaml:7",
    ]


def test_a_valid_rule_set_spread_over_files(settings: Settings, write: Write) -> None:
    write(
        {
            "rules/actors/caucasus.yaml": """\
                actors:
                  - id: armenia
                    kind: country
                    description: Republic of Armenia
                    names: [Armenia, Yerevan, "Армени*"]
                  - id: kopirkin
                    kind: person
                    names: [Sergey Kopirkin, {term: Kopirkin, case: sensitive}]
                    part_of: [russia]
                """,
            "rules/peace.yaml": """\
                # Rules may name actors from any file, defined before or after them.
                rules:
                  - id: caucasus-peace
                    description: Armenia–Azerbaijan peace process
                    feeds: [tass, "tag:uk"]
                    actors: {all: [armenia], any: [russia, kopirkin], none: [russia]}
                    keywords:
                      any: ["peace treaty", "normaliz*", "re:\\\\bpeace\\\\b"]
                      none: [{term: US, case: sensitive}]
                    notify: [ops]
                    min_score: 2
                  - id: quiet
                    query: '"peace treaty" AND @armenia AND NOT football'
                    fields: [title, tags]
                actors:
                  - id: russia
                    kind: country
                    names: [Russia]
                """,
        }
    )
    config = load_config(settings, Path("monitor.yaml"))

    actors = {actor.id: actor for actor in config.rules.actors}
    assert list(actors) == ["armenia", "kopirkin", "russia"]  # the files in order
    caucasus = "rules/actors/caucasus.yaml"
    assert actors["armenia"] == ActorSpec(
        "armenia",
        "country",
        (
            TermSpec("Armenia", False, SourceRef(caucasus, 5)),
            TermSpec("Yerevan", False, SourceRef(caucasus, 5)),
            TermSpec("Армени*", False, SourceRef(caucasus, 5)),
        ),
        (),
        SourceRef(caucasus, 2),
        "Republic of Armenia",
    )
    kopirkin = actors["kopirkin"]
    assert [(n.text, n.case_sensitive, n.where) for n in kopirkin.names] == [
        ("Sergey Kopirkin", False, SourceRef(caucasus, 8)),
        ("Kopirkin", True, SourceRef(caucasus, 8)),
    ]
    assert (kopirkin.part_of, kopirkin.where, kopirkin.description) == (
        ("russia",),
        SourceRef(caucasus, 6),
        "",
    )

    peace, quiet = config.rules.rules
    assert peace == RuleSpec(
        id="caucasus-peace",
        description="Armenia–Azerbaijan peace process",
        feeds=("tass", "tag:uk"),
        fields=DEFAULT_RULE_FIELDS,
        keywords=TermLists(
            any=(
                TermSpec("peace treaty", False, SourceRef("rules/peace.yaml", 8)),
                TermSpec("normaliz*", False, SourceRef("rules/peace.yaml", 8)),
                TermSpec("re:\\bpeace\\b", False, SourceRef("rules/peace.yaml", 8)),
            ),
            none=(TermSpec("US", True, SourceRef("rules/peace.yaml", 9)),),
        ),
        actors=ActorLists(any=("russia", "kopirkin"), all=("armenia",), none=("russia",)),
        notify=("ops",),
        min_score=2.0,
        where=SourceRef("rules/peace.yaml", 3),
    )
    assert quiet.query == '"peace treaty" AND @armenia AND NOT football'
    assert quiet.query_where == SourceRef("rules/peace.yaml", 13)
    assert (quiet.fields, quiet.feeds, quiet.notify, quiet.min_score) == (
        ("title", "tags"),
        (),
        (),
        None,
    )
    assert (quiet.keywords, quiet.actors) == (TermLists(), ActorLists())
    # A rule without notify alerts every notifier of the configuration.
    assert [n.id for n in config.notifiers_for(quiet)] == ["console", "ops"]
    assert [n.id for n in config.notifiers_for(peace)] == ["ops"]
    assert config.rule("quiet") is quiet
    with pytest.raises(KeyError, match="no rule 'nope'"):
        config.rule("nope")


def test_empty_rule_files_and_sections_are_fine(settings: Settings, write: Write) -> None:
    write({"rules/empty.yaml": "", "rules/nothing.yaml": "actors:\nrules: []\n"})

    config = load_config(settings, Path("monitor.yaml"))

    assert (config.rules.actors, config.rules.rules) == ((), ())


def test_rule_files_expand_variables_like_monitor_yaml(settings: Settings, write: Write) -> None:
    write({"rules/a.yaml": "rules:\n  - id: r\n    description: ${DESK}\n    " + KEYWORD})

    config = load_config(settings, Path("monitor.yaml"), environ={"DESK": "Caucasus desk"})

    assert config.rules.rules[0].description == "Caucasus desk"


def test_the_embedded_default_loads_the_shipped_rules_and_dictionaries(
    settings: Settings,
) -> None:
    config = load_config(settings)

    rules = {rule.id: rule for rule in config.rules.rules}
    assert list(rules) == ["caucasus-peace", "russia-sanctions", "black-sea-shipping",
                           "who-outbreaks"]  # fmt: skip
    peace = rules["caucasus-peace"]
    assert peace.actors.all == ("armenia", "azerbaijan")
    assert peace.notify == ()  # every notifier of whatever configuration loads it
    assert peace.where is not None and peace.where.path.endswith("example.yaml")
    assert rules["black-sea-shipping"].query is not None
    actors = {actor.id: actor for actor in config.rules.actors}
    assert len(actors) > 240
    assert actors["kopirkin"].part_of == ("russia",)
    assert all(actor.where is not None and actor.where.line > 0 for actor in actors.values())


def test_load_rules_reports_an_unreadable_file_and_goes_on(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("rules:\n  - id: r\n    keywords: {any: [peace]}\n", encoding="utf-8")
    errors: list[ConfigError] = []

    ruleset = load_rules([tmp_path / "gone.yaml", good], errors, feeds={}, notifiers=())

    assert [e.message for e in errors] == ["file not found"]
    assert [rule.id for rule in ruleset.rules] == ["r"]


def test_a_long_part_of_chain_does_not_exhaust_the_stack() -> None:
    size = 20_000
    chain = {f"a{i}": [f"a{i + 1}"] for i in range(size)}
    chain[f"a{size}"] = ["a0"]
    order = {name: index for index, name in enumerate(chain)}

    (cycle,) = list(_cycles(chain, order))

    assert (cycle[0], cycle[1], cycle[-2], cycle[-1], len(cycle)) == (
        "a0",
        "a1",
        f"a{size}",
        "a0",
        size + 2,
    )


@pytest.mark.parametrize("case", ["too short a prefix", "a rule with no condition"])
def test_a_problem_left_to_the_compiler_is_the_same_at_the_same_place(
    settings: Settings, errors_of: Errors, case: str
) -> None:
    """The match stage's checks are one definition: given to config, config reports their
    problems with its own; not given, the compiler reports the same words at file:line."""
    files, expected = ERROR_CASES[case]
    assert errors_of(files) == expected  # with the checks: config reports it

    config = load_config(settings, Path("monitor.yaml"), environ={})  # without: it loads
    with pytest.raises(ConfigErrors) as caught:
        compile_rules(config.rules)
    assert [str(error) for error in caught.value.errors] == expected
