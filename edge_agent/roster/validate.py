"""Validation of a worker record (form, spreadsheet row, API): every error at once.

:func:`validate_worker` takes a mapping of field name → value (text from a form or a
cell; dates may also be :class:`datetime.date`) and returns the normalised record and
the list of :class:`FieldError` (field, zh-CN message, English message). The record is
usable only when the list is empty. Messages never contain the ID number.

Fields (:data:`FIELDS`; ``*`` required, ``†`` required for a resident ID card (01)):

identity   id_type*, id_number*, name*, sex†, nation†, birth_date†, address†, issuing_authority†,
           id_valid_from†, id_valid_to† (``长期``/``long_term`` for a long-term card), phone*,
           emergency_contact, emergency_phone, education
employment company_code*, company_name*, company_kind* (general_contractor / subcontractor),
           team_code (* for a worker), team_name, team_leader, work_type (* for a worker),
           role* (worker / manager), post (* for a manager), certificate_number and
           certificate_company (* when the post needs a certificate), entry_date (default today)
contract   contract_period_type (* for a worker: fixed_term / task), contract_start (* with a
           period type), contract_end (* for fixed_term), contract_unit, contract_unit_price
           (both or neither)

For a resident ID card, sex and birth date may be left empty: they are taken from the
number; when given they must agree with it.
"""

from __future__ import annotations

import datetime as _dt
import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from shared_schema.idcard import InvalidIdNumber, parse_resident_id

from . import codes

LONG_TERM = "long_term"


@dataclass(frozen=True)
class FieldError:
    field: str
    zh: str
    en: str

    def message(self, lang: str = "zh") -> str:
        return self.zh if lang == "zh" else self.en

    def to_dict(self) -> dict:
        return {"field": self.field, "zh": self.zh, "en": self.en}


class ValidationFailed(ValueError):
    """A record did not validate; ``.errors`` lists every problem."""

    def __init__(self, errors: list[FieldError]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.field}: {e.en}" for e in self.errors))


# field → (zh label, en label); the order forms and import templates use
FIELDS: dict[str, tuple[str, str]] = {
    "id_type": ("证件类型", "ID type"), "id_number": ("证件号码", "ID number"), "name": ("姓名", "name"),
    "sex": ("性别", "sex"), "nation": ("民族", "nation"), "birth_date": ("出生日期", "birth date"),
    "address": ("住址", "address"), "issuing_authority": ("发证机关", "issuing authority"),
    "id_valid_from": ("证件有效期起", "ID valid from"), "id_valid_to": ("证件有效期止", "ID valid to"),
    "phone": ("手机号码", "phone"), "emergency_contact": ("紧急联系人", "emergency contact"),
    "emergency_phone": ("紧急联系电话", "emergency phone"), "education": ("文化程度", "education"),
    "company_code": ("单位统一社会信用代码", "company code"), "company_name": ("所属单位", "company name"),
    "company_kind": ("单位类型", "company kind"), "team_code": ("班组编号", "team code"),
    "team_name": ("班组名称", "team name"), "team_leader": ("班组长", "team leader"),
    "work_type": ("工种", "work type"), "role": ("人员类型", "role"), "post": ("岗位", "post"),
    "certificate_number": ("证书编号", "certificate number"),
    "certificate_company": ("证书注册单位", "certificate company"),
    "entry_date": ("进场日期", "entry date"),
    "contract_period_type": ("合同期限类型", "contract period type"),
    "contract_start": ("合同开始日期", "contract start"), "contract_end": ("合同结束日期", "contract end"),
    "contract_unit": ("计量单位", "contract unit"), "contract_unit_price": ("单价", "unit price"),
}

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_LANDLINE = re.compile(r"^0\d{2,3}-?\d{7,8}$")
_INTL = re.compile(r"^\+\d{1,3}[- ]?\d{4,14}$")
_OTHER_ID = re.compile(r"^[A-Za-z0-9()（）-]{5,32}$")
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_SEX_WORDS = {"1": "1", "2": "2", "男": "1", "女": "2", "M": "1", "F": "2", "male": "1", "female": "2"}
_LONG_WORDS = {"长期", "long_term", "long-term", "longterm", "长期有效"}


def uscc_check_char(first17: str) -> str:
    """GB 32100-2015 check character of a unified social credit code (统一社会信用代码)."""
    total = sum(_USCC_CHARS.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_CHARS[(31 - total % 31) % 31]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (_dt.date, _dt.datetime)):
        return (value.date() if isinstance(value, _dt.datetime) else value).isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    t = unicodedata.normalize("NFC", str(value)).strip()
    return t or None


def _has_control(t: str) -> bool:
    return any(unicodedata.category(c)[0] == "C" for c in t)


class _Checker:
    def __init__(self, data: Mapping[str, Any], today: _dt.date, labels: Mapping[str, tuple[str, str]] = FIELDS):
        self.raw = data
        self.labels = labels
        self.today = today
        self.errors: list[FieldError] = []
        self.out: dict[str, Any] = {}

    def err(self, f: str, zh: str, en: str) -> None:
        self.errors.append(FieldError(f, zh, en))

    def get(self, f: str, *, required: bool = False, max_len: int = 128) -> str | None:
        t = _text(self.raw.get(f))
        if t is None:
            if required:
                self.err(f, f"{self.labels[f][0]}不能为空", f"{self.labels[f][1]} is required")
            return None
        if len(t) > max_len:
            self.err(f, f"{self.labels[f][0]}过长（最多{max_len}字）", f"{self.labels[f][1]} is too long (max {max_len})")
            return None
        if _has_control(t):
            self.err(f, f"{self.labels[f][0]}含有非法字符", f"{self.labels[f][1]} contains control characters")
            return None
        return t

    def date(self, f: str, *, required: bool = False) -> _dt.date | None:
        t = self.get(f, required=required, max_len=32)
        if t is None:
            return None
        t = t.replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "-").rstrip("日")
        if re.fullmatch(r"\d{8}", t):
            t = f"{t[:4]}-{t[4:6]}-{t[6:]}"
        m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?", t)
        try:
            if not m:
                raise ValueError
            d = _dt.date(int(m[1]), int(m[2]), int(m[3]))
            if d.year < 1900 or d.year > 2200:
                raise ValueError
        except ValueError:
            self.err(f, f"{self.labels[f][0]}不是有效日期（YYYY-MM-DD）", f"{self.labels[f][1]} is not a valid date (YYYY-MM-DD)")
            return None
        return d

    def choice(self, f: str, table: codes.CodeTable | dict, *, required: bool = False) -> str | None:
        t = self.get(f, required=required, max_len=64)
        if t is None:
            return None
        if isinstance(table, codes.CodeTable):
            code = table.lookup(t)
        else:
            code = t if t in table else next((k for k, (zh, en) in table.items() if t in (zh, en)), None)
        if code is None:
            self.err(f, f"{self.labels[f][0]}不在代码表中", f"{self.labels[f][1]} is not in the code table")
        return code

    def phone(self, f: str, *, required: bool = False) -> str | None:
        t = self.get(f, required=required, max_len=32)
        if t is None:
            return None
        t = t.replace(" ", "") if not t.startswith("+") else t
        if not (_MOBILE.match(t) or _LANDLINE.match(t) or _INTL.match(t)):
            self.err(f, f"{self.labels[f][0]}格式错误", f"{self.labels[f][1]} is not a phone number")
            return None
        return t

    def person_name(self, f: str, *, required: bool = False) -> str | None:
        t = self.get(f, required=required, max_len=64)
        if t is None:
            return None
        if not all(c.isalpha() or c in "·•. -'" for c in t) or not any(c.isalpha() for c in t):
            self.err(f, f"{self.labels[f][0]}只能包含文字", f"{self.labels[f][1]} may contain letters only")
            return None
        return t


def validate_worker(data: Mapping[str, Any], *, today: _dt.date | None = None
                    ) -> tuple[dict[str, Any], list[FieldError]]:
    """(normalised record, errors). Dates come out as ``YYYY-MM-DD`` text, codes as codes;
    empty fields as ``None``. Unknown keys are errors (a misspelt column must not vanish)."""
    today = today or _dt.date.today()
    c = _Checker(data, today)
    for k in data:
        if k not in FIELDS:
            c.err(str(k)[:64], "未知字段", "unknown field")
    _identity(c)
    _employment(c)
    _contract(c)
    return c.out, c.errors


def check_worker(data: Mapping[str, Any], *, today: _dt.date | None = None) -> dict[str, Any]:
    """:func:`validate_worker` that raises :class:`ValidationFailed` with every error."""
    record, errors = validate_worker(data, today=today)
    if errors:
        raise ValidationFailed(errors)
    return record


def _identity(c: _Checker) -> None:
    o = c.out
    o["id_type"] = c.choice("id_type", codes.table("id_types"), required=True)
    resident = o["id_type"] == "01"
    number = c.get("id_number", required=True, max_len=32)
    parsed = None
    if number is not None:
        if resident:
            try:
                parsed = parse_resident_id(number, today=c.today)
                number = parsed.number
            except InvalidIdNumber as exc:
                zh, _, en = str(exc).partition(" / ")
                c.err("id_number", zh, en or zh)
                number = None
        elif not _OTHER_ID.match(number):
            c.err("id_number", "证件号码格式错误", "ID number has an invalid format")
            number = None
    o["id_number"] = number
    o["name"] = c.person_name("name", required=True)
    sex_text = c.get("sex", max_len=8)
    sex = None
    if sex_text is not None:
        sex = _SEX_WORDS.get(sex_text) or _SEX_WORDS.get(sex_text.lower())
        if sex is None:
            c.err("sex", "性别应为男或女", "sex must be male or female")
    birth = c.date("birth_date")
    if parsed is not None:
        psex = "1" if parsed.sex == "M" else "2"
        if sex is not None and sex != psex:
            c.err("sex", "性别与身份证号码不符", "sex does not match the ID number")
        if birth is not None and birth != parsed.birth_date:
            c.err("birth_date", "出生日期与身份证号码不符", "birth date does not match the ID number")
        sex, birth = psex, parsed.birth_date
    elif not resident and o["id_type"] is not None:   # an unknown ID type: its error is enough
        if sex_text is None:
            c.err("sex", "性别不能为空", "sex is required")
        if birth is None and c.raw.get("birth_date") in (None, ""):
            c.err("birth_date", "出生日期不能为空", "birth date is required")
    if birth is not None and birth > c.today:
        c.err("birth_date", "出生日期不能晚于今天", "birth date is in the future")
    o["sex"], o["birth_date"] = sex, birth.isoformat() if birth else None
    o["nation"] = c.choice("nation", codes.table("nations"), required=resident)
    o["address"] = c.get("address", required=resident, max_len=128)
    o["issuing_authority"] = c.get("issuing_authority", required=resident, max_len=64)
    _validity(c, resident)
    o["phone"] = c.phone("phone", required=True)
    o["emergency_contact"] = c.person_name("emergency_contact")
    o["emergency_phone"] = c.phone("emergency_phone", required=o["emergency_contact"] is not None)
    o["education"] = c.choice("education", codes.table("education"))


def _validity(c: _Checker, resident: bool) -> None:
    start = c.date("id_valid_from", required=resident)
    to_text = _text(c.raw.get("id_valid_to"))
    end, long_term = None, to_text is not None and to_text.lower() in _LONG_WORDS
    if not long_term:
        end = c.date("id_valid_to", required=resident)
    if start is not None and start > c.today:
        c.err("id_valid_from", "证件有效期起始日期晚于今天", "ID validity starts in the future")
    if end is not None:
        if end < c.today:
            c.err("id_valid_to", "证件已过期，不能登记", "the ID document has expired; it cannot be enrolled")
        if start is not None and end <= start:
            c.err("id_valid_to", "有效期止应晚于有效期起", "ID validity must end after it starts")
    c.out["id_valid_from"] = start.isoformat() if start else None
    c.out["id_valid_to"] = LONG_TERM if long_term else (end.isoformat() if end else None)


def _employment(c: _Checker) -> None:
    o = c.out
    code = c.get("company_code", required=True, max_len=64)
    if code is not None:
        code = code.upper()
        if len(code) == 18 and all(ch in _USCC_CHARS for ch in code):
            if uscc_check_char(code[:17]) != code[17]:
                c.err("company_code", "统一社会信用代码校验位错误",
                      "unified social credit code check character does not match")
                code = None
        elif not _CODE.match(code):
            c.err("company_code", "单位代码只能包含字母、数字和 _ . -", "company code may contain A-Z 0-9 _ . - only")
            code = None
    o["company_code"] = code
    o["company_name"] = c.get("company_name", required=True, max_len=128)
    o["company_kind"] = c.choice("company_kind", codes.COMPANY_KINDS, required=True)
    o["role"] = c.choice("role", codes.ROLES, required=True)
    worker = o["role"] == "worker"
    team = c.get("team_code", required=worker, max_len=64)
    if team is not None and not _CODE.match(team):
        c.err("team_code", "班组编号只能包含字母、数字和 _ . -", "team code may contain A-Z 0-9 _ . - only")
        team = None
    o["team_code"] = team
    o["team_name"] = c.get("team_name", max_len=64)
    o["team_leader"] = c.person_name("team_leader")
    o["work_type"] = c.choice("work_type", codes.table("work_types"), required=worker)
    o["post"] = post = c.choice("post", codes.table("posts"), required=o["role"] == "manager")
    needs_cert = post is not None and codes.table("posts").codes[post].requires_certificate
    o["certificate_number"] = c.get("certificate_number", required=needs_cert, max_len=64)
    o["certificate_company"] = c.get("certificate_company", required=needs_cert, max_len=128)
    entry = c.date("entry_date")
    if entry is not None and entry > c.today:
        c.err("entry_date", "进场日期不能晚于今天", "entry date is in the future")
    o["entry_date"] = (entry or c.today).isoformat()


def _contract(c: _Checker) -> None:
    o = c.out
    period = c.choice("contract_period_type", codes.CONTRACT_PERIODS, required=o.get("role") == "worker")
    start = c.date("contract_start", required=period is not None)
    end = c.date("contract_end", required=period == "fixed_term")
    if start is not None and end is not None and end < start:
        c.err("contract_end", "合同结束日期早于开始日期", "contract ends before it starts")
    unit = c.choice("contract_unit", codes.CONTRACT_UNITS)
    price_text = c.get("contract_unit_price", max_len=20)
    price = None
    if price_text is not None:
        try:
            d = Decimal(price_text.replace(",", "").replace("¥", "").replace("元", ""))
            if not d.is_finite() or d <= 0 or d > Decimal("1000000") or d != d.quantize(Decimal("0.01")):
                raise InvalidOperation
            price = f"{d.quantize(Decimal('0.01'))}"
        except InvalidOperation:
            c.err("contract_unit_price", "单价应为大于0的金额（最多两位小数）",
                  "unit price must be a positive amount with at most 2 decimals")
    if (unit is None) != (price_text is None):
        missing = "contract_unit" if unit is None else "contract_unit_price"
        if not any(e.field == missing for e in c.errors):
            c.err(missing, "计量单位和单价须同时填写", "unit and unit price go together")
    o["contract_period_type"] = period
    o["contract_start"] = start.isoformat() if start else None
    o["contract_end"] = end.isoformat() if end else None
    o["contract_unit"], o["contract_unit_price"] = unit, price


EVALUATIONS = {"good": ("好", "good"), "average": ("一般", "average"), "poor": ("差", "poor")}


def validate_exit(data: Mapping[str, Any], *, entry_date: str | None = None, today: _dt.date | None = None,
                  confirm_wages: bool = True) -> tuple[dict[str, Any], list[FieldError]]:
    """Exit (退场) fields: exit_date* (not in the future, not before entry), evaluation
    (good/average/poor or 好/一般/差), credit_remarks (≤ 500), wage_settled* (an explicit
    yes/no: the officer confirms whether wages are settled; ``confirm_wages=False`` for an
    exit decided at the city, where nobody on site has confirmed it: None = unconfirmed)."""
    today = today or _dt.date.today()
    labels = {"exit_date": ("退场日期", "exit date"), "evaluation": ("评价", "evaluation"),
              "credit_remarks": ("诚信备注", "credit remarks"), "wage_settled": ("工资结清确认", "wage settlement")}
    errors: list[FieldError] = []
    out: dict[str, Any] = {}
    for k in data:
        if k not in labels:
            errors.append(FieldError(str(k)[:64], "未知字段", "unknown field"))
    c = _Checker(data, today, labels)
    d = c.date("exit_date", required=True)
    ev = c.choice("evaluation", EVALUATIONS)
    remarks = c.get("credit_remarks", max_len=500)
    errors += c.errors
    if d is not None and d > today:
        errors.append(FieldError("exit_date", "退场日期不能晚于今天", "exit date is in the future"))
    if d is not None and entry_date and d.isoformat() < entry_date:
        errors.append(FieldError("exit_date", "退场日期早于进场日期", "exit date is before the entry date"))
    ws = data.get("wage_settled")
    settled = {True: True, False: False, "1": True, "0": False, "yes": True, "no": False,
               "是": True, "否": False, "true": True, "false": False}.get(
        ws if isinstance(ws, bool) else str(ws).strip().lower() if ws is not None else None)
    if settled is None and (confirm_wages or ws is not None):
        errors.append(FieldError("wage_settled", "请确认工资是否已结清", "confirm whether wages are settled"))
    out.update(exit_date=d.isoformat() if d else None, evaluation=ev, credit_remarks=remarks,
               wage_settled=settled)
    return out, errors
