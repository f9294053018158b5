"""Key posts (关键岗位) whose on-duty rate (到岗率) the city supervises: a small versioned table.

The roster's ``post`` (``RosterChange.post``, free text of at most 32 characters, usually on a
``role="manager"`` entry) names a person's post. Neither the national interface nor the
notice fixes codes for these posts (local versions and vendors differ, see
``../shared/reference/national-interface.md``), so this table is ours, versioned, and
matches each post by its code **or** one of its Chinese names (after trimming spaces;
codes case-insensitively). A roster post that matches none is simply not a key post.

Version 1 (codes → key, Chinese name, accepted aliases):

======  ===================  ====================  =========================================
code    key                  name                  aliases
======  ===================  ====================  =========================================
PM      project_manager      项目经理              项目负责人, 注册建造师
TL      technical_lead       技术负责人            项目技术负责人
SO      safety_officer       安全员                专职安全员, 专职安全生产管理人员, 安全负责人
QL      quality_lead         质量负责人            质量员, 质检员
CS      chief_supervisor     总监理工程师          总监, 项目总监
======  ===================  ====================  =========================================

Change the table by adding a new version (and bumping :data:`POST_TABLE_VERSION`), never by
editing a released one: reports carry the version they were computed with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyPost:
    code: str
    key: str
    name: str
    aliases: tuple[str, ...] = ()


POST_TABLES: dict[int, tuple[KeyPost, ...]] = {
    1: (
        KeyPost("PM", "project_manager", "项目经理", ("项目负责人", "注册建造师")),
        KeyPost("TL", "technical_lead", "技术负责人", ("项目技术负责人",)),
        KeyPost("SO", "safety_officer", "安全员", ("专职安全员", "专职安全生产管理人员", "安全负责人")),
        KeyPost("QL", "quality_lead", "质量负责人", ("质量员", "质检员")),
        KeyPost("CS", "chief_supervisor", "总监理工程师", ("总监", "项目总监")),
    ),
}
POST_TABLE_VERSION = max(POST_TABLES)
KEY_POSTS = POST_TABLES[POST_TABLE_VERSION]
KEY_POST_KEYS = tuple(p.key for p in KEY_POSTS)
_BY_KEY = {p.key: p for p in KEY_POSTS}


def _index(table) -> dict[str, str]:
    out = {}
    for p in table:
        out[p.code.upper()] = p.key
        for name in (p.name, *p.aliases):
            out[name] = p.key
    return out


_LOOKUP = {v: _index(t) for v, t in POST_TABLES.items()}


def key_post(post: str | None, version: int = POST_TABLE_VERSION) -> str | None:
    """A roster ``post`` → the key post's key (``"safety_officer"``...), or None."""
    if not post:
        return None
    text = post.strip()
    table = _LOOKUP[version]
    return table.get(text.upper()) or table.get(text)


def post_info(key: str) -> KeyPost:
    return _BY_KEY[key]
