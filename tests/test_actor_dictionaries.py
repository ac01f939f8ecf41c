"""The shipped actor dictionaries (rules/actors/): coverage, names, links and attribution."""

from __future__ import annotations

import json
import re
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import Settings, load_config
from monitor.config.rules import load_rules
from monitor.errors import ConfigError
from monitor.match import ArticleText, Matcher, compile_rules
from monitor.models import ActorLists, ActorSpec, RuleSet, RuleSpec
from tests.conftest import EXAMPLE, REPO, SHARED_CORPUS

ACTORS_DIR = REPO / "rules" / "actors"
COUNTRIES_JSON = SHARED_CORPUS / "actors" / "mledoze-countries" / "countries.json"

# The 193 UN member states: ISO 3166 alpha-3 code -> actor id.
UN_MEMBERS = {
    "AFG": "afghanistan",
    "AGO": "angola",
    "ALB": "albania",
    "AND": "andorra",
    "ARE": "united-arab-emirates",
    "ARG": "argentina",
    "ARM": "armenia",
    "ATG": "antigua-and-barbuda",
    "AUS": "australia",
    "AUT": "austria",
    "AZE": "azerbaijan",
    "BDI": "burundi",
    "BEL": "belgium",
    "BEN": "benin",
    "BFA": "burkina-faso",
    "BGD": "bangladesh",
    "BGR": "bulgaria",
    "BHR": "bahrain",
    "BHS": "bahamas",
    "BIH": "bosnia-and-herzegovina",
    "BLR": "belarus",
    "BLZ": "belize",
    "BOL": "bolivia",
    "BRA": "brazil",
    "BRB": "barbados",
    "BRN": "brunei",
    "BTN": "bhutan",
    "BWA": "botswana",
    "CAF": "central-african-republic",
    "CAN": "canada",
    "CHE": "switzerland",
    "CHL": "chile",
    "CHN": "china",
    "CIV": "cote-divoire",
    "CMR": "cameroon",
    "COD": "dr-congo",
    "COG": "republic-of-the-congo",
    "COL": "colombia",
    "COM": "comoros",
    "CPV": "cabo-verde",
    "CRI": "costa-rica",
    "CUB": "cuba",
    "CYP": "cyprus",
    "CZE": "czechia",
    "DEU": "germany",
    "DJI": "djibouti",
    "DMA": "dominica",
    "DNK": "denmark",
    "DOM": "dominican-republic",
    "DZA": "algeria",
    "ECU": "ecuador",
    "EGY": "egypt",
    "ERI": "eritrea",
    "ESP": "spain",
    "EST": "estonia",
    "ETH": "ethiopia",
    "FIN": "finland",
    "FJI": "fiji",
    "FRA": "france",
    "FSM": "micronesia",
    "GAB": "gabon",
    "GBR": "united-kingdom",
    "GEO": "georgia",
    "GHA": "ghana",
    "GIN": "guinea",
    "GMB": "gambia",
    "GNB": "guinea-bissau",
    "GNQ": "equatorial-guinea",
    "GRC": "greece",
    "GRD": "grenada",
    "GTM": "guatemala",
    "GUY": "guyana",
    "HND": "honduras",
    "HRV": "croatia",
    "HTI": "haiti",
    "HUN": "hungary",
    "IDN": "indonesia",
    "IND": "india",
    "IRL": "ireland",
    "IRN": "iran",
    "IRQ": "iraq",
    "ISL": "iceland",
    "ISR": "israel",
    "ITA": "italy",
    "JAM": "jamaica",
    "JOR": "jordan",
    "JPN": "japan",
    "KAZ": "kazakhstan",
    "KEN": "kenya",
    "KGZ": "kyrgyzstan",
    "KHM": "cambodia",
    "KIR": "kiribati",
    "KNA": "saint-kitts-and-nevis",
    "KOR": "south-korea",
    "KWT": "kuwait",
    "LAO": "laos",
    "LBN": "lebanon",
    "LBR": "liberia",
    "LBY": "libya",
    "LCA": "saint-lucia",
    "LIE": "liechtenstein",
    "LKA": "sri-lanka",
    "LSO": "lesotho",
    "LTU": "lithuania",
    "LUX": "luxembourg",
    "LVA": "latvia",
    "MAR": "morocco",
    "MCO": "monaco",
    "MDA": "moldova",
    "MDG": "madagascar",
    "MDV": "maldives",
    "MEX": "mexico",
    "MHL": "marshall-islands",
    "MKD": "north-macedonia",
    "MLI": "mali",
    "MLT": "malta",
    "MMR": "myanmar",
    "MNE": "montenegro",
    "MNG": "mongolia",
    "MOZ": "mozambique",
    "MRT": "mauritania",
    "MUS": "mauritius",
    "MWI": "malawi",
    "MYS": "malaysia",
    "NAM": "namibia",
    "NER": "niger",
    "NGA": "nigeria",
    "NIC": "nicaragua",
    "NLD": "netherlands",
    "NOR": "norway",
    "NPL": "nepal",
    "NRU": "nauru",
    "NZL": "new-zealand",
    "OMN": "oman",
    "PAK": "pakistan",
    "PAN": "panama",
    "PER": "peru",
    "PHL": "philippines",
    "PLW": "palau",
    "PNG": "papua-new-guinea",
    "POL": "poland",
    "PRK": "north-korea",
    "PRT": "portugal",
    "PRY": "paraguay",
    "QAT": "qatar",
    "ROU": "romania",
    "RUS": "russia",
    "RWA": "rwanda",
    "SAU": "saudi-arabia",
    "SDN": "sudan",
    "SEN": "senegal",
    "SGP": "singapore",
    "SLB": "solomon-islands",
    "SLE": "sierra-leone",
    "SLV": "el-salvador",
    "SMR": "san-marino",
    "SOM": "somalia",
    "SRB": "serbia",
    "SSD": "south-sudan",
    "STP": "sao-tome-and-principe",
    "SUR": "suriname",
    "SVK": "slovakia",
    "SVN": "slovenia",
    "SWE": "sweden",
    "SWZ": "eswatini",
    "SYC": "seychelles",
    "SYR": "syria",
    "TCD": "chad",
    "TGO": "togo",
    "THA": "thailand",
    "TJK": "tajikistan",
    "TKM": "turkmenistan",
    "TLS": "timor-leste",
    "TON": "tonga",
    "TTO": "trinidad-and-tobago",
    "TUN": "tunisia",
    "TUR": "turkey",
    "TUV": "tuvalu",
    "TZA": "tanzania",
    "UGA": "uganda",
    "UKR": "ukraine",
    "URY": "uruguay",
    "USA": "united-states",
    "UZB": "uzbekistan",
    "VCT": "saint-vincent-and-the-grenadines",
    "VEN": "venezuela",
    "VNM": "vietnam",
    "VUT": "vanuatu",
    "WSM": "samoa",
    "YEM": "yemen",
    "ZAF": "south-africa",
    "ZMB": "zambia",
    "ZWE": "zimbabwe",
}
ORGANISATIONS = [
    *("un", "eu", "nato", "csto", "brics", "osce", "african-union", "asean", "opec", "who"),
    *("imf", "world-bank", "sco", "g7", "g20", "arab-league", "gcc", "cis", "eaeu"),
    *("council-of-europe", "icc", "iaea", "wto", "unsc", "european-commission"),
]
# Capitals kept out of the names on purpose (ATTRIBUTION.md, rule 6), and the one demonym two
# countries share ("Dominican" is the Dominican Republic's).
CAPITALS_LEFT_OUT = {
    "antigua-and-barbuda": "Saint John's",
    "costa-rica": "San José",
    "grenada": "St. George's",
    "guyana": "Georgetown",
    "maldives": "Malé",
    "seychelles": "Victoria",
}
DEMONYMS_LEFT_OUT = {"dominica": "Dominican"}
# The names two actors share on purpose: both Congos are "Congo" in the news.
SHARED_NAMES = {"congo": {"dr-congo", "republic-of-the-congo"}}
SHARED_NAMES["congolese"] = SHARED_NAMES["congo"]
# Lower-case words that no actor may have as a case-insensitive name.
MAGNETS = [
    *("turkey", "china", "chile", "chad", "guinea", "panama", "polish", "poles", "male"),
    *("victoria", "who", "us", "un", "eu", "uk", "emirates", "car", "png", "security council"),
    *("america", "korea", "french", "dutch", "danish", "lima", "praia", "sucre", "la paz"),
]


def load_dictionaries() -> RuleSet:
    errors: list[ConfigError] = []
    ruleset = load_rules(sorted(ACTORS_DIR.glob("*.yaml")), errors, feeds={}, notifiers=())
    assert not errors, "\n".join(str(e) for e in errors)
    return ruleset


@pytest.fixture(scope="module")
def actors() -> dict[str, ActorSpec]:
    return {actor.id: actor for actor in load_dictionaries().actors}


def words(text: str) -> list[str]:
    """The matcher's view of a text, simplified: NFKC, accents folded, casefolded, and any run
    of other characters one separator."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return [word for word in re.split(r"[\W_]+", bare) if word]


def mentions(actor: ActorSpec, text: str) -> Iterator[str]:
    """The names of `actor` that `text` holds as whole words (a prefix term as a word start)."""
    found = words(text)
    for name in actor.names:
        if name.case_sensitive:
            if re.search(rf"(?<!\w){re.escape(name.text)}(?!\w)", text):
                yield name.text
            continue
        wanted = words(name.text.removesuffix("*"))
        if name.text.endswith("*"):
            if len(wanted) == 1 and any(w.startswith(wanted[0]) for w in found):
                yield name.text
        elif any(found[i : i + len(wanted)] == wanted for i in range(len(found))):
            yield name.text


def countries_json() -> list[dict[str, object]]:
    if not COUNTRIES_JSON.exists():
        # ODbL data, read by these checks and copied nowhere (not even into tests/data).
        pytest.skip("countries.json is read from ../shared/corpus, which is not beside the repo")
    data: list[dict[str, object]] = json.loads(COUNTRIES_JSON.read_text(encoding="utf-8"))
    return data


def test_every_un_member_state_is_a_country(actors: dict[str, ActorSpec]) -> None:
    assert len(UN_MEMBERS) == len(set(UN_MEMBERS.values())) == 193
    missing = [actor_id for actor_id in UN_MEMBERS.values() if actor_id not in actors]
    assert missing == []
    assert {actors[actor_id].kind for actor_id in UN_MEMBERS.values()} == {"country"}
    assert {"palestine", "vatican", "kosovo", "taiwan"} <= set(actors)


def test_the_member_list_agrees_with_countries_json() -> None:
    members = {str(c["cca3"]) for c in countries_json() if c.get("unMember")}
    # countries.json marks the Holy See a member; it is an observer state.
    assert members - {"VAT"} == set(UN_MEMBERS)


def test_each_member_has_its_name_capital_and_demonym(actors: dict[str, ActorSpec]) -> None:
    """Checked against countries.json, an independent source (read here, copied nowhere)."""
    problems: list[str] = []
    for country in countries_json():
        code = str(country["cca3"])
        if code not in UN_MEMBERS:
            continue
        actor = actors[UN_MEMBERS[code]]
        demonyms = country.get("demonyms", {})
        assert isinstance(demonyms, dict)
        expected = {
            "name": [str(country["name"]["common"])],  # type: ignore[index]
            "capital": [str(c) for c in country.get("capital", [])],  # type: ignore[attr-defined]
            "demonym": sorted(set(demonyms.get("eng", {}).values())),
        }
        for what, values in expected.items():
            for value in values:
                left_out = {**CAPITALS_LEFT_OUT, **DEMONYMS_LEFT_OUT}.get(actor.id)
                if value != left_out and not any(mentions(actor, value)):
                    problems.append(f"{actor.id}: no name matches its {what} {value!r}")
    assert problems == []


@pytest.mark.parametrize(
    ("actor_id", "text"),
    [
        ("armenia", "Yerevan"),
        ("armenia", "Armenian"),
        ("armenia", "Армении"),
        ("azerbaijan", "Baku"),
        ("azerbaijan", "Azerbaijani"),
        ("azerbaijan", "Азербайджана"),
        ("russia", "Moscow"),
        ("russia", "Kremlin"),
        ("russia", "Russian"),
        ("russia", "России"),
        ("russia", "российский"),
        ("united-states", "US"),
        ("united-states", "U.S."),
        ("united-kingdom", "UK"),
        ("turkey", "Türkiye"),
        ("turkey", "Turkey"),
        ("cote-divoire", "Ivory Coast"),
        ("czechia", "Czech Republic"),
        ("eswatini", "Swaziland"),
        ("myanmar", "Burma"),
        ("ukraine", "Kyiv"),
        ("north-korea", "DPRK"),
        ("un", "U.N."),
        ("csto", "ОДКБ"),
        ("who", "WHO"),
    ],
    ids=str,
)
def test_surface_forms(actors: dict[str, ActorSpec], actor_id: str, text: str) -> None:
    assert list(mentions(actors[actor_id], text)), f"{text!r} is not a name of {actor_id}"


@pytest.mark.parametrize(
    ("actor_id", "text"),
    [
        ("turkey", "roast turkey for dinner"),
        ("united-states", "let us talk"),
        ("china", "fine china plates"),
        ("who", "who said it"),
        ("maldives", "a male nurse"),
        ("russia", "Prussia"),
        ("iran", "Tirana"),
        ("poland", "polish the shoes"),
        ("eu", "eu"),
    ],
    ids=str,
)
def test_false_friends_are_not_names(
    actors: dict[str, ActorSpec], actor_id: str, text: str
) -> None:
    assert list(mentions(actors[actor_id], text)) == []


@pytest.fixture(scope="module")
def every_actor_matcher() -> Matcher:
    """The dictionaries compiled with one rule per actor, named after it."""
    ruleset = load_dictionaries()
    rules = tuple(RuleSpec(a.id, actors=ActorLists(any=(a.id,))) for a in ruleset.actors)
    return compile_rules(RuleSet(actors=ruleset.actors, rules=rules))


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("Papua New Guinea", ("papua-new-guinea",)),
        ("Papua New Guinean", ("papua-new-guinea",)),
        ("Equatorial Guinea", ("equatorial-guinea",)),
        ("Guinea-Bissau", ("guinea-bissau",)),
        ("Guinea", ("guinea",)),
        ("Niger", ("niger",)),
        ("Nigeria", ("nigeria",)),
        ("Democratic Republic of the Congo", ("dr-congo",)),
        ("Republic of the Congo", ("republic-of-the-congo",)),
        ("Congo", ("dr-congo", "republic-of-the-congo")),
        ("South Sudan", ("south-sudan",)),
        ("Sudan", ("sudan",)),
        ("Port of Spain", ("trinidad-and-tobago",)),
        ("East Jerusalem", ("palestine",)),
        ("UN Security Council", ("un", "unsc")),
        ("UN Refugee Agency", ("un", "unhcr")),  # UN programmes and funds are part_of: [un]
        ("International Court of Justice", ("icj", "un")),
    ],
    ids=str,
)
def test_a_name_inside_a_longer_name_names_only_the_longer_ones_actor(
    every_actor_matcher: Matcher, text: str, named: tuple[str, ...]
) -> None:
    matches = every_actor_matcher.match(ArticleText(title=f"{text} said"), feed_id="f")
    assert sorted(match.rule_id for match in matches) == list(named)


def test_major_organisations_are_present(actors: dict[str, ActorSpec]) -> None:
    missing = [actor_id for actor_id in ORGANISATIONS if actor_id not in actors]
    assert missing == []
    assert {actors[actor_id].kind for actor_id in ORGANISATIONS} == {"organization"}
    assert actors["unsc"].part_of == ("un",)
    assert all(actors[a].part_of == ("un",) for a in ("icj", "unhcr", "unicef", "undp", "wfp"))
    assert actors["european-commission"].part_of == ("eu",)


def test_no_two_actors_share_a_name_unless_intended(actors: dict[str, ActorSpec]) -> None:
    owners: dict[str, set[str]] = {}
    for actor in actors.values():
        for name in actor.names:
            owners.setdefault(" ".join(words(name.text)), set()).add(actor.id)
    shared = {name: ids for name, ids in owners.items() if len(ids) > 1}
    assert shared == SHARED_NAMES


def test_no_name_is_a_magnet(actors: dict[str, ActorSpec]) -> None:
    """No common word, and no name of 1-2 letters, is a case-insensitive name."""
    loose = [
        (actor.id, name.text)
        for actor in actors.values()
        for name in actor.names
        if not name.case_sensitive
        and (" ".join(words(name.text)) in MAGNETS or len("".join(words(name.text))) <= 2)
    ]
    assert loose == []


def test_part_of_targets_exist_and_people_belong_to_their_country(
    actors: dict[str, ActorSpec],
) -> None:
    dangling = [(a.id, p) for a in actors.values() for p in a.part_of if p not in actors]
    assert dangling == []
    people = {a.id: a.part_of for a in actors.values() if a.kind == "person"}
    assert people == {
        "putin": ("russia",),
        "lavrov": ("russia",),
        "kopirkin": ("russia",),
        "pashinyan": ("armenia",),
        "mirzoyan": ("armenia",),
        "aliyev": ("azerbaijan",),
        "bayramov": ("azerbaijan",),
    }


def test_the_example_article_names_its_actors(actors: dict[str, ActorSpec]) -> None:
    text = EXAMPLE.read_text(encoding="utf-8")

    found = {actor_id: set(mentions(actors[actor_id], text)) for actor_id in actors}

    assert {"Armenia", "Yerevan", "Armenian"} <= found["armenia"]
    assert {"Azerbaijan", "Baku", "Azerbaijani"} <= found["azerbaijan"]
    assert {"Russia", "Moscow", "Russian"} <= found["russia"]
    assert {"Sergey Kopirkin", "Kopirkin"} <= found["kopirkin"]
    assert {"Vladimir Putin", "Putin"} <= found["putin"]
    assert found["csto"] and found["brics"]
    # Nothing else is named: no false friend in a real article.
    named = {actor_id for actor_id, names in found.items() if names}
    assert named == {"armenia", "azerbaijan", "russia", "kopirkin", "putin", "csto", "brics"}


def test_the_example_rule_catches_the_example_article(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shipped rules, compiled: caucasus-peace matches, with Russia through "Moscow",
    "Russian" and the ambassador (part_of)."""
    monkeypatch.chdir(tmp_path)
    config = load_config(Settings(_env_file=None))  # type: ignore[call-arg]
    title, _, body = EXAMPLE.read_text(encoding="utf-8").partition("\n")

    matches = compile_rules(config.rules).match(ArticleText(title, "", body), feed_id="tass")

    assert [match.rule_id for match in matches] == ["caucasus-peace"]
    actors = {actor.id: set(actor.mentions) for actor in matches[0].actors}
    assert {"armenia", "azerbaijan", "russia"} <= set(actors)
    assert {"Moscow", "Russian", "Kopirkin"} <= actors["russia"]


def test_the_attribution_names_every_source_used() -> None:
    attribution = (ACTORS_DIR / "ATTRIBUTION.md").read_text(encoding="utf-8")
    sources: set[str] = set()
    for path in ACTORS_DIR.glob("*.yaml"):
        header = [line for line in path.read_text(encoding="utf-8").splitlines() if line[:1] == "#"]
        sources |= set(re.findall(r"[\w-]+/[\w.-]+\.(?:txt|json)", "\n".join(header)))
    assert sources == {
        "petrarch2/Phoenix.Countries.actors.txt",
        "petrarch2/Phoenix.International.actors.txt",
    }
    for source in sources:
        assert source in attribution
        if SHARED_CORPUS.exists():
            assert (SHARED_CORPUS / "actors" / source).is_file()
    assert "MIT" in attribution and "676801cd9cb2" in attribution
    # countries.json (ODbL) is only read by these tests: no dictionary names it as a source.
    assert "mledoze-countries/countries.json" in attribution


def test_the_dictionaries_load_fast() -> None:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        ruleset = load_dictionaries()
        timings.append(time.perf_counter() - started)
    assert len(ruleset.actors) > 240
    # About 0.2 s here; the bound leaves room for a busy machine running tests in parallel.
    assert min(timings) < 1.0, timings
