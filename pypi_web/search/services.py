"""Searching packages: by name, by the words of their name, summary and keywords,
and by trove classifier.

Relevance comes in tiers, as pypi.org orders them:

0. the package whose normalized name is the query ("Flask", "flask_sqlalchemy",
   "Flask SQLAlchemy" all find it);
1. packages whose normalized name starts with it (shortest names first);
   equal scores in any tier go oldest package (lowest id) first;
2. full-text matches of every word of the query in name, summary or keywords,
   ranked by the database (bm25 on SQLite FTS5, ts_rank on Postgres, both
   weighing a word in the name over one in the summary or keywords).

A package found by several tiers is listed once, at its best tier. One
statement returns the page and the total count (a window count); only a page
past the end costs a second one, the count alone. Every branch is an index
lookup: the unique index on normalized_name (an index range for prefixes), the
FTS5 table or, on Postgres, the GIN index over the stored documents of the
``packages_search`` table (pypi_web/models/search.py; ts_rank reads them, it
does not compute them again), and the package_classifiers index for ``?c=``.

User text never reaches the database as query syntax: the words are
extracted with a regular expression, each FTS5 term is a quoted string, and
Postgres gets plainto_tsquery() of plain words. Everything goes in as bound
parameters.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

from sqlalchemy import (
    Float,
    Integer,
    String,
    bindparam,
    case,
    column,
    exists,
    func,
    literal,
    literal_column,
    select,
    table,
    union_all,
)
from sqlalchemy.orm import Session

from pypi_web.models import Classifier, Package, Release, package_classifiers
from pypi_web.models.search import PG_RANK_WEIGHTS, SEARCH_TABLE
from pypi_web.packaging.names import MAX_NAME_LENGTH

PAGE_SIZE = 20
# Deeper pages would make the database sort ever more rows for nobody:
# pypi.org stops at 10,000 results too.
MAX_PAGE = 500
# The words of a query that are searched for; more are ignored (and said so).
MAX_TERMS = 10
MAX_TERM_LENGTH = 64
MAX_CLASSIFIERS = 10

_WORD = re.compile(r"\w+")
_NAME_SEPARATORS = re.compile(r"[\s._-]+")
_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")

# Tier offsets: each tier's score lies well inside its band (see hits()).
TIER_BAND = 1000.0


@dataclass(frozen=True)
class ParsedQuery:
    text: str
    # Words searched in the full-text index, lower-cased, at most MAX_TERMS.
    terms: tuple[str, ...]
    # The query as a normalized project name, when it can be one.
    name: str | None
    # True when words were dropped (too many or too long).
    truncated: bool = False

    @property
    def searchable(self) -> bool:
        return bool(self.terms or self.name)


def parse_query(text: str) -> ParsedQuery:
    text = text.replace("\x00", "").strip()
    words = [w.lower() for w in _WORD.findall(text)]
    kept = [w for w in words if len(w) <= MAX_TERM_LENGTH][:MAX_TERMS]
    # dict.fromkeys: drop repeated words, keep their order.
    terms = tuple(dict.fromkeys(kept))
    name = _NAME_SEPARATORS.sub("-", text.lower()).strip("-")
    if len(name) > MAX_NAME_LENGTH or not _NAME.match(name):
        name = None
    return ParsedQuery(text=text, terms=terms, name=name, truncated=len(kept) < len(words))


def fts5_match_expression(terms: tuple[str, ...]) -> str:
    """FTS5 MATCH text: every term a quoted string (so never an operator), all required."""
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _prefix_upper_bound(prefix: str) -> str:
    # Names are ASCII [a-z0-9-]: the prefix with its last character bumped is
    # the first string past every name starting with the prefix.
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


@dataclass
class SearchHit:
    name: str
    normalized_name: str
    summary: str | None
    version: str | None
    last_updated: object


@dataclass
class SearchResults:
    query: ParsedQuery
    classifiers: list[str]
    page: int
    total: int
    hits: list[SearchHit] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return min(MAX_PAGE, max(1, math.ceil(self.total / PAGE_SIZE)))

    @property
    def first_index(self) -> int:
        return (self.page - 1) * PAGE_SIZE + 1

    @property
    def last_index(self) -> int:
        return self.first_index + len(self.hits) - 1


def _candidates(dialect: str, by_name: bool, by_terms: bool):
    """(SELECT package_id, score for every match, its package id column), per way of matching.

    score = tier * TIER_BAND + rank in tier, lower is better.
    """
    branches = []
    if by_name:
        branches.append(_name_candidates())
    if by_terms:
        if dialect == "sqlite":
            branches.append(_sqlite_term_candidates())
        else:
            branches.append(_postgres_term_candidates())
    return branches


def _name_candidates():
    """Projects whose normalized name starts with the query: the exact name first, then shortest."""
    name = Package.normalized_name
    exact = bindparam("name", type_=String)
    return (
        select(
            Package.id.label("package_id"),
            (case((name == exact, 0.0), else_=TIER_BAND) + func.length(name)).label("score"),
        ).where(
            name >= exact,
            name < bindparam("name_upper", type_=String),
            # Redundant in binary collations; exact in any other one. Names
            # hold no LIKE wildcards ([a-z0-9-] only), so nothing to escape.
            name.like(bindparam("name_prefix", type_=String)),
        ),
        Package.id,
    )


def _sqlite_term_candidates():
    """Full-text matches from SQLite's FTS5 table, ranked by bm25()."""
    fts = table(SEARCH_TABLE, literal_column("rowid"))
    rowid = literal_column(f"{SEARCH_TABLE}.rowid", Integer)
    # bm25() is negative, better matches more so; weights: name, summary, keywords.
    rank = literal_column(f"bm25({SEARCH_TABLE}, 10.0, 3.0, 3.0)", Float)
    return (
        select(rowid.label("package_id"), (2 * TIER_BAND + rank).label("score"))
        .select_from(fts)
        .where(literal_column(SEARCH_TABLE).op("MATCH")(bindparam("fts_match", type_=String))),
        rowid,
    )


def _postgres_term_candidates():
    """Full-text matches from PostgreSQL's tsvector documents, ranked by ts_rank()."""
    # Not a model: the table is kept by a trigger (models/search.py).
    documents = table(SEARCH_TABLE, column("package_id"), column("document"))
    document = documents.c.document
    tsquery = func.plainto_tsquery(
        literal_column("'english'::regconfig"), bindparam("fts_words", type_=String)
    )
    rank = func.ts_rank(PG_RANK_WEIGHTS, document, tsquery, type_=Float)
    return (
        select(
            documents.c.package_id,
            (3 * TIER_BAND - rank * 100).label("score"),
        ).where(document.op("@@")(tsquery)),
        documents.c.package_id,
    )


def _classifier_filter(package_id, index: int):
    return exists(
        select(1)
        .select_from(package_classifiers.join(Classifier))
        .where(
            package_classifiers.c.package_id == package_id,
            Classifier.classifier == bindparam(f"classifier_{index}", type_=String),
        )
    )


def _latest_version(package_id):
    """The newest final, non-yanked release's version, else the newest of all."""
    newest = select(Release.version).order_by(Release.sort_order.desc()).limit(1)
    return func.coalesce(
        newest.where(
            Release.package_id == package_id,
            Release.yanked.is_(False),
            Release.is_prerelease.is_(False),
        ).scalar_subquery(),
        newest.where(Release.package_id == package_id).scalar_subquery(),
    )


def _page_columns():
    return (
        Package.id,
        Package.name,
        Package.normalized_name,
        Package.summary,
        Package.last_updated,
    )


def _query_statements(dialect: str, by_name: bool, by_terms: bool, classifiers: int):
    """Results for a query: matches ranked and counted by package id, then joined for a page.

    Only the page's rows are joined to packages: a word 3% of 100,000
    packages contain gives 3,000 matches, and joining all of them to sort
    them by name was half of the page's time. Ties are broken by package id,
    so pages never overlap.
    """
    branches = []
    for n, (branch, package_id) in enumerate(_candidates(dialect, by_name, by_terms)):
        filtered = branch.where(*(_classifier_filter(package_id, i) for i in range(classifiers)))
        if dialect == "sqlite":
            # Materialized: SQLite would otherwise flatten it into the GROUP BY
            # below, where FTS5's bm25() cannot run.
            hits = filtered.cte(f"hits_{n}").prefix_with("MATERIALIZED")
            filtered = select(hits.c.package_id, hits.c.score)
        branches.append(filtered)
    matches = union_all(*branches).subquery("matches")
    # A package found several ways is listed once, at its best score.
    best = select(matches.c.package_id, func.min(matches.c.score).label("score")).group_by(
        matches.c.package_id
    )
    ranked = (
        best.add_columns(func.count().over().label("total"))
        .order_by(literal_column("score"), matches.c.package_id)
        .limit(bindparam("page_limit", type_=Integer))
        .offset(bindparam("page_offset", type_=Integer))
        .subquery("ranked")
    )
    page = (
        select(
            *_page_columns(),
            ranked.c.score,
            ranked.c.total,
            _latest_version(Package.id).label("version"),
        )
        .join(ranked, ranked.c.package_id == Package.id)
        .order_by(ranked.c.score, Package.id)
    )
    count = select(func.count()).select_from(best.subquery())
    return page, count


def _browse_statements(classifiers: int):
    """Browsing: every package carrying every classifier, by name."""
    best = (
        select(
            package_classifiers.c.package_id.label("package_id"),
            literal(0.0, Float).label("score"),
        )
        .join(Classifier)
        .where(Classifier.classifier == bindparam("classifier_0", type_=String))
        .subquery("best")
    )
    filters = [_classifier_filter(Package.id, i) for i in range(1, classifiers)]
    ranked = (
        select(*_page_columns(), best.c.score, func.count().over().label("total"))
        .join(best, best.c.package_id == Package.id)
        .where(*filters)
        .order_by(Package.normalized_name)
        .limit(bindparam("page_limit", type_=Integer))
        .offset(bindparam("page_offset", type_=Integer))
        .subquery("ranked")
    )
    page = select(ranked, _latest_version(ranked.c.id).label("version")).order_by(
        ranked.c.normalized_name
    )
    count = select(func.count()).select_from(
        select(best.c.package_id)
        .join(Package, Package.id == best.c.package_id)
        .where(*filters)
        .subquery()
    )
    return page, count


@functools.lru_cache(maxsize=64)
def _statements(dialect: str, by_name: bool, by_terms: bool, classifiers: int):
    """The page statement and the count statement for one shape of query.

    Built once per shape, every value a bound parameter: building these
    constructs costs more than running them, and SQLAlchemy's compiled-SQL
    cache can then skip compiling them too.
    """
    if by_name or by_terms:
        return _query_statements(dialect, by_name, by_terms, classifiers)
    return _browse_statements(classifiers)


def search(
    dbsession: Session, query: ParsedQuery, classifiers: list[str], page: int = 1
) -> SearchResults:
    """One page of results, best first, and the total number of matches."""
    dialect = dbsession.get_bind().dialect.name
    classifiers = list(dict.fromkeys(classifiers))[:MAX_CLASSIFIERS]
    results = SearchResults(query=query, classifiers=classifiers, page=page, total=0)
    if not (query.name or query.terms or classifiers):
        return results

    page_statement, count_statement = _statements(
        dialect, bool(query.name), bool(query.terms), len(classifiers)
    )
    params: dict[str, object] = {f"classifier_{i}": c for i, c in enumerate(classifiers)}
    if query.name:
        params.update(
            name=query.name,
            name_upper=_prefix_upper_bound(query.name),
            name_prefix=query.name + "%",
        )
    if query.terms:
        if dialect == "sqlite":
            params["fts_match"] = fts5_match_expression(query.terms)
        else:
            params["fts_words"] = " ".join(query.terms)
    rows = dbsession.execute(
        page_statement, {**params, "page_limit": PAGE_SIZE, "page_offset": (page - 1) * PAGE_SIZE}
    ).all()
    if rows:
        results.total = rows[0].total
    else:
        # Past the last page (or nothing at all): the count alone.
        results.total = dbsession.execute(count_statement, params).scalar_one()
    results.hits = [
        SearchHit(
            name=row.name,
            normalized_name=row.normalized_name,
            summary=row.summary,
            version=row.version,
            last_updated=row.last_updated,
        )
        for row in rows
    ]
    return results


__all__ = ["MAX_PAGE", "PAGE_SIZE", "ParsedQuery", "SearchResults", "parse_query", "search"]
