"""The enroll form's layout: which of the registry's fields (``roster.validate.FIELDS``) go in
which section, as what kind of input, with select options from the registry's code tables."""

from __future__ import annotations

from dataclasses import dataclass

from ..roster import (COMPANY_KINDS, CONTRACT_PERIODS, CONTRACT_UNITS, FIELDS, ROLES, SEXES, CodeTable,
                      code_table)


@dataclass(frozen=True)
class Input:
    name: str
    label: str
    kind: str                                  # text | date | select | tel
    options: tuple[tuple[str, str], ...] = ()
    required: bool = False


def _opts(source, lang: str) -> tuple[tuple[str, str], ...]:
    if isinstance(source, CodeTable):
        return tuple(source.choices(lang))
    return tuple((k, zh if lang == "zh" else en) for k, (zh, en) in source.items())


SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("section.identity", ("id_type", "id_number", "name", "sex", "nation", "birth_date", "address",
                          "issuing_authority", "id_valid_from", "id_valid_to")),
    ("section.contact", ("phone", "emergency_contact", "emergency_phone", "education")),
    ("section.employment", ("company_code", "company_name", "company_kind", "team_code", "team_name",
                            "team_leader", "work_type", "role", "post", "entry_date")),
    ("section.certificate", ("certificate_number", "certificate_company")),
    ("section.contract", ("contract_period_type", "contract_start", "contract_end", "contract_unit",
                          "contract_unit_price")),
)
DATES = {"birth_date", "id_valid_from", "entry_date", "contract_start", "contract_end"}
PHONES = {"phone", "emergency_phone"}
REQUIRED = {"id_type", "id_number", "name", "phone", "company_code", "company_name", "company_kind", "role"}


def selects(lang: str) -> dict[str, tuple[tuple[str, str], ...]]:
    return {"id_type": _opts(code_table("id_types"), lang), "sex": _opts(SEXES, lang),
            "nation": _opts(code_table("nations"), lang), "education": _opts(code_table("education"), lang),
            "company_kind": _opts(COMPANY_KINDS, lang), "work_type": _opts(code_table("work_types"), lang),
            "role": _opts(ROLES, lang), "post": _opts(code_table("posts"), lang),
            "contract_period_type": _opts(CONTRACT_PERIODS, lang),
            "contract_unit": _opts(CONTRACT_UNITS, lang)}


def layout(lang: str) -> list[tuple[str, list[Input]]]:
    sel = selects(lang)
    out = []
    for title, names in SECTIONS:
        items = []
        for n in names:
            label = FIELDS[n][0 if lang == "zh" else 1]
            kind = "select" if n in sel else "date" if n in DATES else "tel" if n in PHONES else "text"
            items.append(Input(n, label, kind, sel.get(n, ()), n in REQUIRED))
        out.append((title, items))
    return out


def form_values(form, names=FIELDS) -> dict[str, str]:
    """The registry fields present in a submitted form, as text ('' dropped: empty = not given)."""
    out = {}
    for n in names:
        v = form.get(n)
        if isinstance(v, str) and v.strip():
            out[n] = v
    return out
