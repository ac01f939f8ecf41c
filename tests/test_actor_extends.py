"""`extends: ID` in a rule file: names added to an actor defined elsewhere (a shipped one or
another file's), matched by the real matcher; and its errors, each with file:line."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from monitor.config import ConfigErrors, MonitorConfig, Settings, load_config
from monitor.config.defaults import default_rules_dir
from monitor.match import ArticleText, checks, compile_rules

FEEDS = """\
feeds:
  - id: tass
    url: https://tass.com/rss/v2.xml
notifiers:
  - id: console
    type: console
"""
MONITOR_YAML = FEEDS + "rules: [rules/]\n"
WITH_SHIPPED = FEEDS + "rules: [shipped:actors, rules/]\n"
ARMENIA = """\
actors:
  - id: armenia
    kind: country
    names: [Armenia, Yerevan]
  - id: russia
    kind: country
    names: [Russia]
"""
WATCH_ARMENIA = """\
rules:
  - id: watch
    actors: {any: [armenia]}
"""
B = "rules/b.yaml"

Load = Callable[[Mapping[str, str]], MonitorConfig]
Errors = Callable[[Mapping[str, str]], list[str]]


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Load:
    """Writes `files` (monitor.yaml unless given) in an empty working folder and loads them."""
    monkeypatch.chdir(tmp_path)

    def write_and_load(files: Mapping[str, str]) -> MonitorConfig:
        for name, text in {"monitor.yaml": MONITOR_YAML, **files}.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
        return load_config(settings, Path("monitor.yaml"), environ={}, rule_checks=checks)

    return write_and_load


@pytest.fixture
def errors_of(load: Load) -> Errors:
    def errors(files: Mapping[str, str]) -> list[str]:
        with pytest.raises(ConfigErrors) as caught:
            load(files)
        return [str(error) for error in caught.value.errors]

    return errors


def matched_actors(config: MonitorConfig, text: str) -> dict[str, list[str]]:
    """Each matching rule's actors with the mentions found, through the compiled matcher."""
    matches = compile_rules(config.rules).match(ArticleText.from_text(text), feed_id="tass")
    return {hit.id: list(hit.mentions) for match in matches for hit in match.actors}


def test_extends_adds_names_that_match_and_keeps_the_original(load: Load) -> None:
    extension = "actors:\n  - extends: armenia\n    names: [Hayastan, Armenian side, Yerevan]\n"
    config = load({"rules/a.yaml": ARMENIA, B: extension + WATCH_ARMENIA})

    armenia, _ = config.rules.actors
    assert (armenia.id, armenia.kind) == ("armenia", "country")
    assert armenia.where is not None and armenia.where.path == "rules/a.yaml"
    # "Yerevan" is not added twice; the added names are located in the file that adds them.
    assert [(n.text, n.where.path if n.where else None) for n in armenia.names] == [
        ("Armenia", "rules/a.yaml"),
        ("Yerevan", "rules/a.yaml"),
        ("Hayastan", B),
        ("Armenian side", B),
    ]
    text = "Talks in Hayastan\nThe Armenian side and Yerevan agreed."
    assert matched_actors(config, text) == {"armenia": ["Hayastan", "Armenian side", "Yerevan"]}


def test_two_files_extending_one_actor_both_add(load: Load) -> None:
    config = load(
        {
            "rules/a.yaml": ARMENIA,
            B: "actors:\n  - extends: armenia\n    names: [Hayastan]\n",
            "rules/c.yaml": "actors:\n  - extends: armenia\n    names: [Erebuni]\n" + WATCH_ARMENIA,
        }
    )

    assert [n.text for n in config.rules.actors[0].names] == [
        "Armenia", "Yerevan", "Hayastan", "Erebuni"
    ]  # fmt: skip
    assert matched_actors(config, "Erebuni and Hayastan\n") == {"armenia": ["Erebuni", "Hayastan"]}


def test_extends_may_add_part_of(load: Load) -> None:
    """An extension defined before the actor it extends: files are read in order, but an
    extension applies once every file is read."""
    config = load(
        {
            "rules/0-extend.yaml": "actors:\n  - extends: armenia\n    part_of: [russia]\n",
            "rules/a.yaml": ARMENIA,
            B: "rules:\n  - id: watch\n    actors: {any: [russia]}\n",
        }
    )

    assert config.rules.actors[0].part_of == ("russia",)
    assert matched_actors(config, "News from Yerevan\n") == {"russia": ["Yerevan"]}


def test_extends_a_shipped_actor(load: Load) -> None:
    """`shipped:actors` names the dictionaries that come with the package, from any folder."""
    extension = "actors:\n  - extends: armenia\n    names: [Hayastan]\n"
    config = load({"monitor.yaml": WITH_SHIPPED, B: extension + WATCH_ARMENIA})

    shipped = default_rules_dir().resolve() / "actors" / "countries.yaml"
    assert config.rule_files[0].resolve() == shipped
    armenia = next(actor for actor in config.rules.actors if actor.id == "armenia")
    assert armenia.where is not None and armenia.where.line > 1
    assert {"Armenia", "Yerevan", "Армени*", "Hayastan"} <= {n.text for n in armenia.names}
    assert len(config.rules.actors) > 240
    assert matched_actors(config, "Hayastan votes\nЕреван") == {"armenia": ["Hayastan", "Ереван"]}


def test_shipped_files_reached_twice_are_read_once(load: Load) -> None:
    """In a checkout, `shipped:actors` and the rules/ folder both hold the dictionaries."""
    shipped = default_rules_dir()
    config_text = FEEDS + f"rules: [shipped:actors, {shipped}, shipped:example.yaml]\n"

    config = load({"monitor.yaml": config_text})

    files = [path.resolve() for path in config.rule_files]
    assert len(files) == len(set(files))
    assert {path.name for path in files} >= {"countries.yaml", "example.yaml"}
    assert "caucasus-peace" in {rule.id for rule in config.rules.rules}
    text = "Armenia and Azerbaijan sign a peace treaty\nIn Baku."
    assert "caucasus-peace" in {
        match.rule_id
        for match in compile_rules(config.rules).match(ArticleText.from_text(text), feed_id="tass")
    }


EXTENDS_ERRORS = {
    "unknown id, with did you mean": (
        {B: "actors:\n  - extends: armena\n    names: [Hayastan]\n"},
        [f'{B}:2: actors[0].extends: unknown actor "armena" (did you mean "armenia"?)'],
    ),
    "unknown id, nothing close, no shipped actors": (
        {B: "actors:\n  - extends: zzz\n    names: [Z]\n"},
        [
            f'{B}:2: actors[0].extends: unknown actor "zzz": extends adds to an actor defined '
            'elsewhere; for the shipped ones, add "shipped:actors" to rules: in monitor.yaml'
        ],
    ),
    "kind and id are the original's": (
        {B: "actors:\n  - extends: armenia\n    kind: person\n    id: hayastan\n    names: [H]\n"},
        [
            f'{B}:3: actors[0].kind: an "extends" entry keeps the kind of the actor it extends: '
            'it may only have "extends", "names" and "part_of"',
            f'{B}:4: actors[0].id: an "extends" entry keeps the id of the actor it extends: '
            'it may only have "extends", "names" and "part_of"',
        ],
    ),
    "other keys": (
        {B: "actors:\n  - extends: armenia\n    description: x\n    names: [H]\n"},
        [f'{B}:3: actors[0]: unknown key "description": expected extends, names or part_of'],
    ),
    "adds nothing": (
        {B: "actors:\n  - extends: armenia\n"},
        [f'{B}:2: actors[0]: an "extends" entry must add something: give names or part_of'],
    ),
    "a bad name": (
        {B: "actors:\n  - extends: armenia\n    names: ['...']\n"},
        [f'{B}:3: actors[0].names[0]: "..." has no letters or digits: it would match nothing'],
    ),
    "an unknown part_of": (
        {B: "actors:\n  - extends: armenia\n    part_of: [rusia]\n"},
        [f'{B}:3: actors[0].part_of[0]: unknown actor "rusia" (did you mean "russia"?)'],
    ),
    "a part_of cycle through an extension": (
        {
            B: "actors:\n  - extends: russia\n    part_of: [armenia]\n"
            "  - extends: armenia\n    part_of: [russia]\n"
        },
        [f"{B}:5: actors[1].part_of[0]: part_of makes a cycle: armenia -> russia -> armenia"],
    ),
    "a redefinition suggests extends": (
        {B: "actors:\n  - id: armenia\n    kind: country\n    names: [Hayastan]\n"},
        [
            f'{B}:2: actors[0].id: duplicate actor id "armenia" (first defined at '
            'rules/a.yaml:2); to add names to it, write "extends: armenia" instead of '
            '"id: armenia" and give only names and part_of'
        ],
    ),
}


@pytest.mark.parametrize(
    ("files", "expected"), EXTENDS_ERRORS.values(), ids=list(EXTENDS_ERRORS.keys())
)
def test_extends_error(errors_of: Errors, files: dict[str, str], expected: list[str]) -> None:
    assert errors_of({"rules/a.yaml": ARMENIA, **files}) == expected


def test_redefining_a_shipped_actor_names_the_shipped_file_and_suggests_extends(
    errors_of: Errors,
) -> None:
    """The README's old worked example: armenia defined again beside the shipped dictionaries."""
    redefinition = "actors:\n  - id: armenia\n    kind: country\n    names: [Hayastan]\n"
    redefinition += "  - extends: zzz\n    names: [Z]\n"

    errors = errors_of({"monitor.yaml": WITH_SHIPPED, B: redefinition})

    shipped = default_rules_dir() / "actors" / "countries.yaml"
    line = shipped.read_text(encoding="utf-8").splitlines().index("  - id: armenia") + 1
    assert errors == [
        f'{B}:2: actors[0].id: duplicate actor id "armenia" (first defined at {shipped}:{line}); '
        'to add names to it, write "extends: armenia" instead of "id: armenia" and give only '
        "names and part_of",
        f'{B}:5: actors[1].extends: unknown actor "zzz": extends adds to an actor defined '
        "elsewhere (by an id: entry)",
    ]


def test_an_extends_entry_is_not_an_id_rules_can_name(errors_of: Errors) -> None:
    extension = "actors:\n  - extends: armenia\n    id: hayastan\n    names: [Hayastan]\n"
    rule = "rules:\n  - id: watch\n    actors: {any: [hayastan]}\n"

    errors = errors_of({"rules/a.yaml": ARMENIA, B: extension + rule})

    assert errors[-1] == f'{B}:7: rules[0].actors.any[0]: unknown actor "hayastan"'


def test_the_shipped_folder_is_named_in_a_missing_shipped_path(errors_of: Errors) -> None:
    errors = errors_of({"monitor.yaml": FEEDS + "rules: [shipped:actorz]\n"})

    assert errors == [
        f'monitor.yaml:7: rules[0]: "shipped:actorz" does not exist (looked for '
        f"{default_rules_dir() / 'actorz'})"
    ]
