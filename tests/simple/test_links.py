"""The simple page's links, built in Python, escape as the template language did."""

from __future__ import annotations

import datetime

from chameleon import PageTemplate

from pypi_web.simple.services import SimpleFile, file_links_html

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
