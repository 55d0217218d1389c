"""The simple page's links and JSON files, made as text, are what the template and json made."""

from __future__ import annotations

import datetime
import json

from chameleon import PageTemplate

from pypi_web.simple.services import SimpleFile, file_links_html, files_json

HOUR = datetime.timedelta(hours=1)

# The loop simple/detail.pt ran before the links were built in Python.
TEMPLATE_LOOP = PageTemplate(
    '<tal:file repeat="file files">    <a href="${file.url}#sha256=${file.sha256}" '
    'tal:attributes="data-requires-python file.requires_python; data-yanked file.yanked_attr; '
    "data-dist-info-metadata file.core_metadata_attr; "
    'data-core-metadata file.core_metadata_attr">${file.filename}</a><br>\n</tal:file>'
)


def simple_file(**overrides) -> SimpleFile:
    values = dict(
        filename="demo-1.0.tar.gz",
        url="https://files.example/demo-1.0.tar.gz",
        sha256="ab" * 32,
        requires_python=None,
        size=10,
        upload_time=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        yanked=False,
        metadata_sha256=None,
    )
    return SimpleFile(**{**values, **overrides})


def test_links_are_the_templates_markup_for_plain_and_hostile_values():
    files = [
        simple_file(),
        simple_file(requires_python=">=3.8", yanked="", metadata_sha256="cd" * 32),
        simple_file(
            filename="a&b<c>\"d'.whl",
            url='https://x.example/?a=1&b="2"<3>',
            requires_python='>=3.8,!="4"&<5',
            yanked='don\'t "use" <this> & that',
        ),
        simple_file(requires_python="", yanked="reason"),
    ]
    assert file_links_html(files) == TEMPLATE_LOOP(files=files)


def test_files_json_is_what_json_dumps_writes_of_the_dicts():
    files = [
        simple_file(),
        simple_file(requires_python=">=3.8", yanked="", metadata_sha256="cd" * 32),
        simple_file(
            filename='dé"mo\\\n\x01.whl',
            url="https://x.example/é?a=1&b=2",
            requires_python="<4,\u2028>=3",
            yanked='no "good" ☃',
            upload_time=datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.timezone(HOUR)),
        ),
        simple_file(requires_python="", yanked="reason", metadata_sha256=""),
    ]
    expected = json.dumps([f.as_json() for f in files], ensure_ascii=False, separators=(",", ":"))
    assert files_json(files) == expected
    assert files_json([]) == "[]"
